//! RFC 8707 resource indicators: which audiences a token may be bound to.

use crate::domain::{Client, Scope, Subscription};
use crate::service::FlowError;

/// The audience of an access token: the requested resources when allowed, else the
/// client's configured audience, else its client id (DESIGN.md "Clients").
pub fn audience(
    sub: &Subscription,
    client: &Client,
    scope: &Scope,
    resources: &[String],
) -> Result<Vec<String>, FlowError> {
    for r in resources {
        let parsed = url::Url::parse(r).map_err(|_| {
            FlowError::InvalidTarget(format!("resource {r:?} is not an absolute URI"))
        })?;
        if parsed.fragment().is_some() {
            return Err(FlowError::InvalidTarget(
                "resource must not contain a fragment".into(),
            ));
        }
        let allowed = client.spec.allowed_resources.iter().any(|a| a == r)
            || (scope.contains("mcp") && sub.settings.mcp_resources.iter().any(|a| a == r));
        if !allowed {
            return Err(FlowError::InvalidTarget(format!(
                "resource {r:?} is not allowed for this client"
            )));
        }
    }
    Ok(if !resources.is_empty() {
        resources.to_vec()
    } else if !client.spec.audience.is_empty() {
        client.spec.audience.clone()
    } else {
        vec![client.client_id.clone()]
    })
}
