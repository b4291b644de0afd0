//! Line numbers for JSON paths, so `verify` can annotate an error inside a role file with
//! `file:line`. The text is scanned once into a compact tree of values (start line, children);
//! each lookup then walks the path, so annotating every error of a large file stays linear instead
//! of rescanning the text per error.

use std::collections::HashMap;

use crate::engine::grammar::PathSeg;

/// Line positions of every value in a JSON text, built in one pass.
pub(crate) struct LineIndex {
    /// Every value in the order its first byte appears.
    nodes: Vec<Node>,
    /// Array elements: an array's children are `elements[first..first + len]`.
    elements: Vec<usize>,
    /// Object members by (object node, decoded key). One map for all objects keeps building linear
    /// and lookups constant-time however wide an object is (a role file with thousands of
    /// policies, a usage file with thousands of roles).
    members: HashMap<(usize, String), usize>,
}

/// One value: where it starts and, for an array, where its elements are listed.
struct Node {
    /// 1-based; for an object member, the line of its key.
    line: usize,
    first: usize,
    len: usize,
}

/// An open container while scanning.
enum Frame {
    Object {
        node: usize,
        /// The key just read, waiting for its value, with the key's line.
        key: Option<(String, usize)>,
    },
    Array {
        node: usize,
        elements: Vec<usize>,
    },
}

impl LineIndex {
    /// Scans `text` (already known to be valid JSON) once. Invalid text does not panic; the index
    /// is then merely approximate.
    pub(crate) fn new(text: &str) -> LineIndex {
        let mut index = LineIndex {
            nodes: Vec::new(),
            elements: Vec::new(),
            members: HashMap::new(),
        };
        let bytes = text.as_bytes();
        let mut stack: Vec<Frame> = Vec::new();
        let (mut pos, mut line) = (0, 1);
        while let Some(&b) = bytes.get(pos) {
            match b {
                // Raw newlines cannot occur inside JSON strings, so every one counts, and bytes of
                // multi-byte UTF-8 characters never equal an ASCII delimiter.
                b'\n' => line += 1,
                b'"' => {
                    let end = string_end(bytes, pos);
                    let quoted = text.get(pos..end).unwrap_or("");
                    match stack.last_mut() {
                        Some(Frame::Object {
                            key: key @ None, ..
                        }) => {
                            *key = Some((decode_key(quoted), line));
                        }
                        _ => {
                            index.value(&mut stack, line);
                        }
                    }
                    pos = end;
                    continue;
                }
                b'{' => {
                    let node = index.value(&mut stack, line);
                    stack.push(Frame::Object { node, key: None });
                }
                b'[' => {
                    let node = index.value(&mut stack, line);
                    let elements = Vec::new();
                    stack.push(Frame::Array { node, elements });
                }
                b'}' | b']' => {
                    if let Some(Frame::Array { node, elements }) = stack.pop() {
                        index.close_array(node, elements);
                    }
                }
                b',' | b':' | b' ' | b'\t' | b'\r' => {}
                _ => {
                    // A number or a literal: one value up to the next delimiter.
                    index.value(&mut stack, line);
                    while bytes.get(pos + 1).is_some_and(|b| !is_delimiter(*b)) {
                        pos += 1;
                    }
                }
            }
            pos += 1;
        }
        // Only invalid (truncated) text leaves containers open; keep their elements reachable.
        while let Some(frame) = stack.pop() {
            if let Frame::Array { node, elements } = frame {
                index.close_array(node, elements);
            }
        }
        index
    }

    /// Records a value starting on `line` and attaches it to the open container, if any.
    fn value(&mut self, stack: &mut [Frame], line: usize) -> usize {
        let id = self.nodes.len();
        let line = match stack.last_mut() {
            Some(Frame::Object { node, key }) => match key.take() {
                Some((key, key_line)) => {
                    self.members.insert((*node, key), id);
                    key_line
                }
                None => line,
            },
            Some(Frame::Array { elements, .. }) => {
                elements.push(id);
                line
            }
            None => line,
        };
        self.nodes.push(Node {
            line,
            first: 0,
            len: 0,
        });
        id
    }

    fn close_array(&mut self, node: usize, elements: Vec<usize>) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.first = self.elements.len();
            n.len = elements.len();
        }
        self.elements.extend(elements);
    }

    /// 1-based line where the value at `path` starts (for an object member: the line of its key),
    /// or the line of the deepest existing ancestor when the path goes further than the document.
    /// `None` only when `path` is empty-and-text-empty (there is no value at all).
    pub(crate) fn line(&self, path: &[PathSeg]) -> Option<usize> {
        // The first value scanned is the root: containers are recorded before their contents.
        let mut node = 0;
        for seg in path {
            let child = match seg {
                PathSeg::Key(key) => self.members.get(&(node, key.clone())).copied(),
                // A scalar or an object has len 0, so an index into it finds nothing.
                PathSeg::Index(i) => self
                    .nodes
                    .get(node)
                    .filter(|n| *i < n.len)
                    .and_then(|n| self.elements.get(n.first + i).copied()),
            };
            match child {
                Some(child) => node = child,
                None => break,
            }
        }
        self.nodes.get(node).map(|n| n.line)
    }
}

/// The position just past the string that starts with the quote at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut pos = start + 1;
    while let Some(&b) = bytes.get(pos) {
        match b {
            // Skip the escaped byte, so `\"` does not end the string and `\\` does not escape the
            // closing quote. `\u` escapes need nothing special: their digits are plain bytes.
            b'\\' => pos += 2,
            b'"' => return pos + 1,
            _ => pos += 1,
        }
    }
    bytes.len()
}

/// The key a quoted JSON string denotes. Keys without escapes (nearly all) skip the decoder.
fn decode_key(quoted: &str) -> String {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(quoted);
    if !inner.contains('\\') {
        return inner.to_string();
    }
    serde_json::from_str::<String>(quoted).unwrap_or_else(|_| inner.to_string())
}

fn is_delimiter(b: u8) -> bool {
    matches!(b, b',' | b']' | b'}' | b':' | b' ' | b'\t' | b'\r' | b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(segs: &[&str]) -> Vec<PathSeg> {
        segs.iter()
            .map(|s| match s.parse() {
                Ok(i) => PathSeg::Index(i),
                Err(_) => PathSeg::Key(s.to_string()),
            })
            .collect()
    }

    fn line(index: &LineIndex, segs: &[&str]) -> Option<usize> {
        index.line(&path(segs))
    }

    const ROLE: &str = r#"{
  "app": {
    "Version": "2012-10-17",
    "Statement": {
      "Effect": "Allow",
      "Action": [
        "s3:GetObject", "s3:PutObject",
        "ec2:DescribeInstances"
      ],
      "Resource":
        "*"
    }
  },
  "a\"b\\": {"Statement": [{"Action": "x"},
    {"Action": ["é\u00e9 \"[{", 12.5e3, true, null, {}, []]}]},
  "\u0041": 1
}"#;

    #[test]
    fn lines_of_values() {
        let index = LineIndex::new(ROLE);
        assert_eq!(line(&index, &[]), Some(1));
        assert_eq!(line(&index, &["app"]), Some(2));
        assert_eq!(line(&index, &["app", "Version"]), Some(3));
        // A single-object Statement: members directly below it.
        assert_eq!(line(&index, &["app", "Statement"]), Some(4));
        assert_eq!(line(&index, &["app", "Statement", "Effect"]), Some(5));
        assert_eq!(line(&index, &["app", "Statement", "Action", "0"]), Some(7));
        assert_eq!(line(&index, &["app", "Statement", "Action", "1"]), Some(7));
        assert_eq!(line(&index, &["app", "Statement", "Action", "2"]), Some(8));
        // An object member is located at its key, even when the value is on a later line.
        assert_eq!(line(&index, &["app", "Statement", "Resource"]), Some(10));
    }

    #[test]
    fn escaped_keys_and_unicode() {
        let index = LineIndex::new(ROLE);
        assert_eq!(line(&index, &["a\"b\\"]), Some(14));
        assert_eq!(
            line(&index, &["a\"b\\", "Statement", "0", "Action"]),
            Some(14)
        );
        assert_eq!(line(&index, &["a\"b\\", "Statement", "1"]), Some(15));
        // `\u0041` is the key "A"; the escapes and brackets inside the string are skipped.
        assert_eq!(line(&index, &["A"]), Some(16));
        assert_eq!(line(&index, &["\\u0041"]), Some(1));
        let text = "{\"é\u{1F600}\": \"ü\",\n \"k\": [\"€\",\n \"x\"]}";
        let index = LineIndex::new(text);
        assert_eq!(line(&index, &["é\u{1F600}"]), Some(1));
        assert_eq!(line(&index, &["k", "0"]), Some(2));
        assert_eq!(line(&index, &["k", "1"]), Some(3));
    }

    #[test]
    fn too_deep_paths_fall_back_to_the_deepest_ancestor() {
        let index = LineIndex::new(ROLE);
        let action = ["app", "Statement", "Action"];
        assert_eq!(line(&index, &[&action[..], &["9"]].concat()), Some(6));
        assert_eq!(
            line(&index, &["app", "Statement", "Effect", "x", "0"]),
            Some(5)
        );
        assert_eq!(
            line(&index, &["app", "Statement", "0"]),
            Some(4),
            "index into an object"
        );
        assert_eq!(line(&index, &["missing", "x"]), Some(1));
        // The nested empty containers and scalars are values too.
        let last = ["a\"b\\", "Statement", "1", "Action"];
        for i in 0..6 {
            assert_eq!(
                line(&index, &[&last[..], &[&i.to_string()[..]]].concat()),
                Some(15)
            );
        }
        assert_eq!(LineIndex::new("").line(&[]), None);
        assert_eq!(LineIndex::new("  \n 7 ").line(&path(&["a"])), Some(2));
    }

    #[test]
    fn large_documents_index_in_one_pass() {
        // ~5.6 MB: 200,000 array entries, one per line, then an object of 20,000 members.
        let n = 200_000;
        let mut text = String::from("{\"list\": [\n");
        for i in 0..n {
            text.push_str(&format!("  \"s3:GetObject{i:>10}\",\n"));
        }
        text.push_str("  0\n],\n\"wide\": {\n");
        for i in 0..20_000 {
            text.push_str(&format!("\"k{i}\": {{\"v\": [{i}]}},\n"));
        }
        text.push_str("\"last\": 0\n},\n\"end\": true\n}\n");
        assert!(text.len() > 5_000_000, "{}", text.len());
        let index = LineIndex::new(&text);
        assert_eq!(line(&index, &["list", "0"]), Some(2));
        assert_eq!(line(&index, &["list", "123456"]), Some(123_458));
        assert_eq!(line(&index, &["list", "200000"]), Some(200_002));
        assert_eq!(
            line(&index, &["list", "200001"]),
            Some(1),
            "past the end: the list's line"
        );
        assert_eq!(line(&index, &["wide"]), Some(200_004));
        assert_eq!(line(&index, &["wide", "k0", "v", "0"]), Some(200_005));
        assert_eq!(line(&index, &["wide", "k19999"]), Some(220_004));
        assert_eq!(line(&index, &["wide", "last"]), Some(220_005));
        assert_eq!(line(&index, &["end"]), Some(220_007));
    }
}
