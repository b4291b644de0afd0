//! Validation of the identifiers that become paths: account ids, role names and policy names.
//!
//! `policies/<account>/<RoleName>.json` is built from these, so nothing that is not a valid IAM
//! identifier may reach a path — in particular no `/`, no `..`, nothing absolute.

/// An identifier that is not valid where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {why}")]
pub struct NameError {
    /// `account id`, `role name` or `policy name`.
    pub what: &'static str,
    /// The offending value.
    pub value: String,
    /// Why it is invalid.
    pub why: String,
}

fn err(what: &'static str, value: &str, why: impl Into<String>) -> NameError {
    NameError {
        what,
        value: value.to_string(),
        why: why.into(),
    }
}

/// A 12-digit AWS account id.
pub fn validate_account_id(id: &str) -> Result<(), NameError> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(err("account id", id, "must be exactly 12 digits"))
    }
}

fn validate_iam_name(what: &'static str, name: &str, max: usize) -> Result<(), NameError> {
    if name.is_empty() || name.len() > max {
        return Err(err(what, name, format!("must be 1 to {max} characters")));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c)))
    {
        return Err(err(
            what,
            name,
            format!("contains {c:?}; IAM allows letters, digits and + = , . @ _ -"),
        ));
    }
    if name == "." || name == ".." {
        return Err(err(what, name, "is not a usable file name"));
    }
    Ok(())
}

/// An IAM role name: 1–64 characters of `[A-Za-z0-9+=,.@_-]`, never `.` or `..`.
pub fn validate_role_name(name: &str) -> Result<(), NameError> {
    validate_iam_name("role name", name, 64)
}

/// An IAM inline policy name: 1–128 characters of `[A-Za-z0-9+=,.@_-]`.
pub fn validate_policy_name(name: &str) -> Result<(), NameError> {
    validate_iam_name("policy name", name, 128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts() {
        assert!(validate_account_id("123456789012").is_ok());
        for bad in [
            "12345678901",
            "1234567890123",
            "12345678901a",
            "",
            "../../etc/x",
        ] {
            assert!(validate_account_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_never_make_paths() {
        assert!(validate_role_name("web-app_1+=,.@").is_ok());
        for bad in [
            "",
            "..",
            ".",
            "a/b",
            "../x",
            "a\\b",
            "naïve",
            "a b",
            &"x".repeat(65),
        ] {
            assert!(validate_role_name(bad).is_err(), "{bad}");
        }
        assert!(validate_policy_name(&"p".repeat(128)).is_ok());
        assert!(validate_policy_name(&"p".repeat(129)).is_err());
        let e = validate_role_name("a/b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid role name \"a/b\": contains '/'; IAM allows letters, digits and + = , . @ _ -"
        );
    }
}
