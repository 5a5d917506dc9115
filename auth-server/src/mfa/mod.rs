//! Second factors, pure and synchronous (no IO, no clock, no randomness: callers pass
//! `now` and the random bytes): TOTP (RFC 6238) with the matched step for replay
//! protection, recovery codes, and the policy decision that says whether a login needs
//! a local second factor (including "2FA done at the SSO provider").

pub mod policy;
pub mod recovery;
pub mod totp;

pub use policy::{
    ACR_MFA, ACR_SINGLE, FirstFactor, MfaPolicy, SecondFactor, UpstreamTrust, effective_policy,
    requires_second_factor, session_acr, step_up_needed,
};
pub use recovery::{RECOVERY_CODES, RecoveryCode};
pub use totp::{CodeInput, Totp, TotpError};
