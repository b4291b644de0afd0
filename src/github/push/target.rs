//! The URL pushed to (checked, shown without user information) and the credentials sent to
//! its origin only.

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

use super::error::PushError;

/// The user name sent with the token: GitHub accepts it for installation and personal tokens.
pub(super) const TOKEN_USER: &str = "x-access-token";

/// The URL pushed to: parsed, without user information, checked.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) url: Url,
    /// For messages: the URL without user information (and without query or fragment).
    pub(super) shown: String,
}

impl Target {
    pub(super) fn parse(raw: &str) -> Result<Target, PushError> {
        let mut url = Url::parse(raw).map_err(|e| PushError::InvalidUrl {
            url: strip_userinfo_lossy(raw),
            reason: format!("not a URL ({e})"),
        })?;
        // Credentials never travel in the URL; the token is the authentication.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_fragment(None);
        let shown = url.as_str().to_owned();
        let invalid = |reason: &str| PushError::InvalidUrl {
            url: shown.clone(),
            reason: reason.into(),
        };
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(invalid(
                    "plain http:// is only accepted for a loopback address; the token would \
                     travel in clear text",
                ));
            }
            _ => return Err(invalid("only https:// URLs are supported")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("the URL has no host"));
        }
        if url.query().is_some() {
            return Err(invalid("the URL has a query string"));
        }
        Ok(Target { url, shown })
    }
}

/// `raw` with anything between `://` and the last `@` of the authority removed, for messages
/// about a string that does not even parse as a URL.
pub(super) fn strip_userinfo_lossy(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return if raw.contains('@') {
            "<invalid URL>".into()
        } else {
            raw.into()
        };
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => raw.into(),
    }
}

pub(super) fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Scheme, host and port: where the token may be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Origin {
    pub(super) scheme: String,
    pub(super) host: String,
    pub(super) port: Option<u16>,
}

impl Origin {
    pub(super) fn of(url: &Url) -> Origin {
        Origin {
            scheme: url.scheme().to_ascii_lowercase(),
            host: url.host_str().unwrap_or_default().to_ascii_lowercase(),
            port: url.port_or_known_default(),
        }
    }
}

/// The token and the one origin it is for. `Debug` never shows the token.
pub(super) struct Credentials {
    pub(super) origin: Origin,
    pub(super) token: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("origin", &self.origin)
            .field("token", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_userinfo_and_need_https_or_loopback_http() {
        let t = Target::parse("https://x-access-token:secret@github.com/o/r.git").unwrap();
        assert_eq!(t.shown, "https://github.com/o/r.git");
        assert_eq!(t.url.as_str(), "https://github.com/o/r.git");
        assert!(Target::parse("http://127.0.0.1:8080/r.git").is_ok());
        assert!(Target::parse("http://[::1]:8080/r.git").is_ok());
        assert!(Target::parse("http://localhost/r.git").is_ok());
        let e = Target::parse("http://user:secret@example.com/r.git").unwrap_err();
        assert!(e.to_string().contains("http://example.com/r.git"), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(Target::parse("ssh://git@github.com/o/r.git").is_err());
        let e = Target::parse("https://user:secret@").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn lossy_userinfo_stripping() {
        assert_eq!(strip_userinfo_lossy("https://a:b@h/p@q"), "https://h/p@q");
        assert_eq!(strip_userinfo_lossy("no url"), "no url");
        assert_eq!(strip_userinfo_lossy("a:b@c"), "<invalid URL>");
    }

    #[test]
    fn credentials_debug_hides_the_token() {
        let c = Credentials {
            origin: Origin::of(&Url::parse("https://github.com/").unwrap()),
            token: "ghs_secret".into(),
        };
        assert!(!format!("{c:?}").contains("ghs_secret"));
    }
}
