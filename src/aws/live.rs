//! Reading and writing a role's inline policies: `ListRolePolicies` + `GetRolePolicy` to read,
//! `PutRolePolicy` and `DeleteRolePolicy` to write ([`LiveIam`] for `apply`).

use crate::apply::{LiveError, LiveIam};
use crate::engine::PolicyMap;
use crate::engine::policy::PolicyDocument;

use super::{Aws, AwsError};

const LIST: &str = "iam:ListRolePolicies";
const GET: &str = "iam:GetRolePolicy";
const PUT: &str = "iam:PutRolePolicy";
const DELETE: &str = "iam:DeleteRolePolicy";

impl LiveIam for Aws {
    fn read_inline(&self, account: &str, role: &str) -> Result<Option<PolicyMap>, LiveError> {
        let iam = self.iam(account)?;
        let acct = Some(account);
        self.block_on(async {
            let mut names = Vec::new();
            let mut marker: Option<String> = None;
            loop {
                self.calls.record(LIST);
                let page = match iam
                    .list_role_policies()
                    .role_name(role)
                    .set_marker(marker.clone())
                    .send()
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        let e = AwsError::from_sdk(acct, format!("{LIST} {role}"), &e);
                        if e.is_not_found() {
                            return Ok(None);
                        }
                        return Err(e.into());
                    }
                };
                names.extend(page.policy_names().iter().cloned());
                match (page.is_truncated(), page.marker()) {
                    (true, Some(m)) if Some(m) != marker.as_deref() => marker = Some(m.to_string()),
                    // A partial list would hide a policy from the drift guard: refuse it.
                    (true, _) => {
                        return Err(AwsError::other(
                            acct,
                            format!("{LIST} {role}"),
                            "IsTruncated is true but no new Marker was given; the policy list would be incomplete",
                        )
                        .into());
                    }
                    (false, _) => break,
                }
            }
            let mut map = PolicyMap::new();
            for name in names {
                self.calls.record(GET);
                let call = format!("{GET} {role}/{name}");
                let out = iam
                    .get_role_policy()
                    .role_name(role)
                    .policy_name(&name)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk(acct, call.clone(), &e))?;
                let doc = PolicyDocument::parse(&name, out.policy_document()).map_err(|e| {
                    AwsError::other(
                        acct,
                        call.clone(),
                        format!("IAM returned a document that does not parse: {e}"),
                    )
                })?;
                map.insert(name, doc);
            }
            Ok(Some(map))
        })
    }

    fn put_policy(
        &self,
        account: &str,
        role: &str,
        name: &str,
        document: &str,
    ) -> Result<(), LiveError> {
        let iam = self.iam(account)?;
        self.calls.record(PUT);
        self.block_on(
            iam.put_role_policy()
                .role_name(role)
                .policy_name(name)
                .policy_document(document)
                .send(),
        )
        .map_err(|e| AwsError::from_sdk(Some(account), format!("{PUT} {role}/{name}"), &e))?;
        Ok(())
    }

    fn delete_policy(&self, account: &str, role: &str, name: &str) -> Result<(), LiveError> {
        let iam = self.iam(account)?;
        self.calls.record(DELETE);
        match self.block_on(
            iam.delete_role_policy()
                .role_name(role)
                .policy_name(name)
                .send(),
        ) {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = AwsError::from_sdk(Some(account), format!("{DELETE} {role}/{name}"), &e);
                // Already gone is what a delete wants (a re-run after a partial apply).
                if e.is_not_found() {
                    Ok(())
                } else {
                    Err(e.into())
                }
            }
        }
    }
}
