//! The one catalogue of user-visible strings on the login, consent, 2FA and account
//! pages: English (default) and German. A page picks its language once
//! ([`crate::domain::branding::negotiate`]) and reads every string from here, so a
//! translation can never miss one string and leave a page half translated.

use crate::domain::branding::Lang;

/// Every string of the end-user pages, in one language.
pub struct Text {
    /// Login page title and heading.
    pub sign_in: &'static str,
    /// Label of `username`.
    pub username: &'static str,
    /// Label of `password`.
    pub password: &'static str,
    /// Cancel button.
    pub cancel: &'static str,
    /// Before an SSO connection name.
    pub sign_in_with: &'static str,
    /// The one message for every failed sign-in (DESIGN.md: never says which part was wrong).
    pub login_failed: &'static str,
    /// After a correct password on a disabled account.
    pub account_disabled: &'static str,
    /// Consent title.
    pub allow_access: &'static str,
    /// Consent heading, before the client name.
    pub allow_q: &'static str,
    /// After the client name.
    pub asks_for: &'static str,
    /// Allow button.
    pub allow: &'static str,
    /// Deny button.
    pub deny: &'static str,
    /// Before the host that serves a metadata-document client.
    pub application_from: &'static str,
    /// Warning for a client that is not registered (metadata document), before the host.
    pub unregistered_by: &'static str,
    /// Warning end, after the host.
    pub unregistered_end: &'static str,
    /// 2FA title.
    pub two_factor: &'static str,
    /// 2FA code heading.
    pub enter_code: &'static str,
    /// 2FA code hint.
    pub code_hint: &'static str,
    /// Label of `code`.
    pub code: &'static str,
    /// Verify button.
    pub verify: &'static str,
    /// Enrolment heading.
    pub set_up_2fa: &'static str,
    /// Enrolment hint on the login path.
    pub enrol_required: &'static str,
    /// Confirm button.
    pub confirm: &'static str,
    /// Continue button.
    pub continue_: &'static str,
    /// Heading after the second factor was accepted.
    pub verified: &'static str,
    /// QR image alternative text.
    pub qr_alt: &'static str,
    /// Beside the `otpauth://` URI.
    pub or_enter: &'static str,
    /// Recovery codes notice.
    pub recovery_notice: &'static str,
    /// Account page: label of `code`.
    pub code_from_app: &'static str,
    /// Account page: 2FA is on.
    pub mfa_on: &'static str,
    /// Account page: 2FA is off.
    pub mfa_off: &'static str,
    /// Account page: enrolment hint.
    pub scan_hint: &'static str,
    /// Account page: turn on.
    pub turn_on: &'static str,
    /// Account page: regenerate recovery codes.
    pub regenerate: &'static str,
    /// Account page: turn off.
    pub turn_off: &'static str,
    /// Heading after a recovery code was used.
    pub recovery_accepted: &'static str,
    /// Recovery codes left: text before and after the number.
    pub codes_left: (&'static str, &'static str),
    /// Advice when few recovery codes are left.
    pub regenerate_soon: &'static str,
    /// Heading of freshly generated recovery codes.
    pub new_codes: &'static str,
    /// The old recovery codes are void.
    pub old_codes_void: &'static str,
    /// Enrolment needs a first factor under five minutes old.
    pub sign_in_again: &'static str,
    /// Error page title.
    pub error: &'static str,
    /// Error page heading.
    pub sign_in_error: &'static str,
    /// Account consents page title.
    pub applications: &'static str,
    /// Account consents page heading.
    pub applications_heading: &'static str,
    /// No consents given.
    pub no_consents: &'static str,
    /// After the application name, before its scope.
    pub may_use: &'static str,
    /// Revoke button.
    pub revoke_access: &'static str,
}

const EN: Text = Text {
    sign_in: "Sign in",
    username: "Username",
    password: "Password",
    cancel: "Cancel",
    sign_in_with: "Sign in with",
    // Unchanged from before the catalogue: scripts and tests match this exact text.
    login_failed: "invalid username or password",
    account_disabled: "this account is disabled",
    allow_access: "Allow access",
    allow_q: "Allow",
    asks_for: "asks for:",
    allow: "Allow",
    deny: "Deny",
    application_from: "Application from",
    unregistered_by: "This application is not registered with this server; its name is chosen by",
    unregistered_end: ". Allow it only if you trust that site.",
    two_factor: "Two-factor authentication",
    enter_code: "Enter your code",
    code_hint: "Open your authenticator app and enter the 6-digit code, or one of your recovery codes.",
    code: "Code",
    verify: "Verify",
    set_up_2fa: "Set up two-factor authentication",
    enrol_required: "Your organisation requires a second factor. Scan the QR code with an authenticator app, then enter the 6-digit code it shows.",
    confirm: "Confirm",
    continue_: "Continue",
    verified: "Verified",
    qr_alt: "QR code to scan with an authenticator app",
    or_enter: "Or enter this in your app:",
    recovery_notice: "Save these recovery codes somewhere safe. Each works once, in place of a code from your app. They will not be shown again.",
    code_from_app: "Code from your app",
    mfa_on: "Two-factor authentication is on.",
    mfa_off: "Two-factor authentication is off.",
    scan_hint: "Scan the QR code with an authenticator app, then enter the 6-digit code it shows.",
    turn_on: "Turn on",
    regenerate: "Generate new recovery codes",
    turn_off: "Turn off two-factor authentication",
    recovery_accepted: "Recovery code accepted",
    codes_left: ("You have ", " recovery codes left."),
    regenerate_soon: "Generate new recovery codes from your account's two-factor page soon.",
    new_codes: "New recovery codes",
    old_codes_void: "Your old recovery codes no longer work.",
    sign_in_again: "For your security, sign in again (within the last 5 minutes) to set up two-factor authentication.",
    error: "Error",
    sign_in_error: "Sign-in error",
    applications: "Applications",
    applications_heading: "Applications with access to your account",
    no_consents: "You have not given any application access.",
    may_use: " may use: ",
    revoke_access: "Revoke access",
};

const DE: Text = Text {
    sign_in: "Anmelden",
    username: "Benutzername",
    password: "Passwort",
    cancel: "Abbrechen",
    sign_in_with: "Anmelden mit",
    login_failed: "Benutzername oder Passwort ist falsch.",
    account_disabled: "Dieses Konto ist deaktiviert.",
    allow_access: "Zugriff erlauben",
    allow_q: "Zugriff erlauben für",
    asks_for: "möchte Folgendes:",
    allow: "Erlauben",
    deny: "Ablehnen",
    application_from: "Anwendung von",
    unregistered_by: "Diese Anwendung ist bei diesem Server nicht registriert; ihren Namen wählt",
    unregistered_end: ". Erlauben Sie sie nur, wenn Sie dieser Website vertrauen.",
    two_factor: "Zwei-Faktor-Authentifizierung",
    enter_code: "Code eingeben",
    code_hint: "Öffnen Sie Ihre Authenticator-App und geben Sie den 6-stelligen Code oder einen Ihrer Wiederherstellungscodes ein.",
    code: "Code",
    verify: "Bestätigen",
    set_up_2fa: "Zwei-Faktor-Authentifizierung einrichten",
    enrol_required: "Ihre Organisation verlangt einen zweiten Faktor. Scannen Sie den QR-Code mit einer Authenticator-App und geben Sie dann den angezeigten 6-stelligen Code ein.",
    confirm: "Bestätigen",
    continue_: "Weiter",
    verified: "Bestätigt",
    qr_alt: "QR-Code zum Scannen mit einer Authenticator-App",
    or_enter: "Oder geben Sie dies in Ihrer App ein:",
    recovery_notice: "Bewahren Sie diese Wiederherstellungscodes sicher auf. Jeder funktioniert einmal anstelle eines Codes aus Ihrer App. Sie werden nicht erneut angezeigt.",
    code_from_app: "Code aus Ihrer App",
    mfa_on: "Zwei-Faktor-Authentifizierung ist aktiviert.",
    mfa_off: "Zwei-Faktor-Authentifizierung ist deaktiviert.",
    scan_hint: "Scannen Sie den QR-Code mit einer Authenticator-App und geben Sie dann den angezeigten 6-stelligen Code ein.",
    turn_on: "Aktivieren",
    regenerate: "Neue Wiederherstellungscodes erzeugen",
    turn_off: "Zwei-Faktor-Authentifizierung deaktivieren",
    recovery_accepted: "Wiederherstellungscode akzeptiert",
    codes_left: ("Sie haben noch ", " Wiederherstellungscodes."),
    regenerate_soon: "Erzeugen Sie bald auf der Zwei-Faktor-Seite Ihres Kontos neue Wiederherstellungscodes.",
    new_codes: "Neue Wiederherstellungscodes",
    old_codes_void: "Ihre alten Wiederherstellungscodes sind ungültig.",
    sign_in_again: "Melden Sie sich zu Ihrer Sicherheit erneut an (innerhalb der letzten 5 Minuten), um die Zwei-Faktor-Authentifizierung einzurichten.",
    error: "Fehler",
    sign_in_error: "Anmeldefehler",
    applications: "Anwendungen",
    applications_heading: "Anwendungen mit Zugriff auf Ihr Konto",
    no_consents: "Sie haben keiner Anwendung Zugriff gewährt.",
    may_use: " darf verwenden: ",
    revoke_access: "Zugriff entziehen",
};

/// The catalogue of `lang`.
pub fn text(lang: Lang) -> &'static Text {
    match lang {
        Lang::En => &EN,
        Lang::De => &DE,
    }
}

/// Messages worded outside the pages, English → German: the 2FA service's refusals
/// (`service::mfa::MfaError`, `service::second_factor::StepError`), the directories'
/// account states (`directory::rules::AdAccountState`, `service::login::LoginError`)
/// and the error page's messages (`PageError`). Keyed by the English text so the
/// services stay free of languages; a message missing here is shown in English, which
/// the unit tests below rule out for every fixed message of those types.
const MESSAGES: &[(&str, &str)] = &[
    // 2FA service.
    (
        "That code is not valid. Check your authenticator app and try again.",
        "Dieser Code ist ungültig. Prüfen Sie Ihre Authenticator-App und versuchen Sie es erneut.",
    ),
    (
        "That code was already used. Wait for the next code in your authenticator app.",
        "Dieser Code wurde bereits verwendet. Warten Sie auf den nächsten Code in Ihrer Authenticator-App.",
    ),
    (
        "Too many wrong codes: two-factor sign-in for this account is locked for 5 minutes. Try again later.",
        "Zu viele falsche Codes: Die Zwei-Faktor-Anmeldung für dieses Konto ist für 5 Minuten gesperrt. Versuchen Sie es später erneut.",
    ),
    (
        "Two-factor authentication is not set up for this account.",
        "Für dieses Konto ist keine Zwei-Faktor-Authentifizierung eingerichtet.",
    ),
    (
        "Two-factor authentication is already set up for this account.",
        "Für dieses Konto ist die Zwei-Faktor-Authentifizierung bereits eingerichtet.",
    ),
    (
        "The setup expired. Scan the new QR code and enter a fresh code.",
        "Die Einrichtung ist abgelaufen. Scannen Sie den neuen QR-Code und geben Sie einen neuen Code ein.",
    ),
    (
        "Two-factor authentication is turned off for this organisation.",
        "Die Zwei-Faktor-Authentifizierung ist für diese Organisation deaktiviert.",
    ),
    (
        "Your organisation requires two-factor authentication; it cannot be turned off.",
        "Ihre Organisation verlangt die Zwei-Faktor-Authentifizierung; sie kann nicht deaktiviert werden.",
    ),
    (
        "Enter the 6-digit code from your authenticator app.",
        "Geben Sie den 6-stelligen Code aus Ihrer Authenticator-App ein.",
    ),
    (
        "The code must have exactly 6 digits.",
        "Der Code muss genau 6 Ziffern haben.",
    ),
    ("Choose an action.", "Wählen Sie eine Aktion."),
    (
        "This sign-in has expired. Go back to the application and start again.",
        "Diese Anmeldung ist abgelaufen. Kehren Sie zur Anwendung zurück und beginnen Sie erneut.",
    ),
    (
        "Your sign-in took too long; enter your password again.",
        "Ihre Anmeldung hat zu lange gedauert; geben Sie Ihr Passwort erneut ein.",
    ),
    // Directory account states.
    (
        "invalid username or password",
        "Benutzername oder Passwort ist falsch.",
    ),
    ("this account is disabled", "Dieses Konto ist deaktiviert."),
    (
        "Your account is not allowed to sign in at this time. Contact your administrator.",
        "Ihr Konto darf sich zu dieser Zeit nicht anmelden. Wenden Sie sich an Ihre Administration.",
    ),
    (
        "Your account is not allowed to sign in from here. Contact your administrator.",
        "Ihr Konto darf sich von hier aus nicht anmelden. Wenden Sie sich an Ihre Administration.",
    ),
    (
        "Your password has expired. Change it in your directory, then sign in again.",
        "Ihr Passwort ist abgelaufen. Ändern Sie es in Ihrem Verzeichnis und melden Sie sich dann erneut an.",
    ),
    (
        "This account is disabled. Contact your administrator.",
        "Dieses Konto ist deaktiviert. Wenden Sie sich an Ihre Administration.",
    ),
    (
        "This account has expired. Contact your administrator.",
        "Dieses Konto ist abgelaufen. Wenden Sie sich an Ihre Administration.",
    ),
    (
        "You must change your password before signing in. Change it in your directory, then sign in again.",
        "Sie müssen Ihr Passwort ändern, bevor Sie sich anmelden. Ändern Sie es in Ihrem Verzeichnis und melden Sie sich dann erneut an.",
    ),
    (
        "This account is locked. Try again later or contact your administrator.",
        "Dieses Konto ist gesperrt. Versuchen Sie es später erneut oder wenden Sie sich an Ihre Administration.",
    ),
    (
        "Your directory is unavailable right now, so your account cannot be checked. Try again in a few minutes.",
        "Ihr Verzeichnis ist gerade nicht erreichbar, daher kann Ihr Konto nicht geprüft werden. Versuchen Sie es in einigen Minuten erneut.",
    ),
    // The error page.
    ("Malformed form.", "Ungültiges Formular."),
    (
        "You are not signed in. Start again from the application.",
        "Sie sind nicht angemeldet. Beginnen Sie erneut in der Anwendung.",
    ),
    (
        "You are not signed in. Sign in through an application first.",
        "Sie sind nicht angemeldet. Melden Sie sich zuerst über eine Anwendung an.",
    ),
    (
        "Start signing in from your application.",
        "Beginnen Sie die Anmeldung in Ihrer Anwendung.",
    ),
    (
        "Start from your application.",
        "Beginnen Sie in Ihrer Anwendung.",
    ),
    (
        "This request has expired. Start again from the application.",
        "Diese Anfrage ist abgelaufen. Beginnen Sie erneut in der Anwendung.",
    ),
    (
        "This request has expired or was already answered.",
        "Diese Anfrage ist abgelaufen oder wurde bereits beantwortet.",
    ),
    (
        "This form is no longer valid. Go back to the application and start again.",
        "Dieses Formular ist nicht mehr gültig. Kehren Sie zur Anwendung zurück und beginnen Sie erneut.",
    ),
    (
        "This application is no longer known.",
        "Diese Anwendung ist nicht mehr bekannt.",
    ),
    (
        "The service is temporarily unavailable. Try again shortly.",
        "Der Dienst ist vorübergehend nicht verfügbar. Versuchen Sie es gleich erneut.",
    ),
    ("The request is too long.", "Die Anfrage ist zu lang."),
    (
        "That application has no access to revoke.",
        "Diese Anwendung hat keinen Zugriff, der entzogen werden könnte.",
    ),
    ("Something went wrong.", "Etwas ist schiefgelaufen."),
    (
        "Choose the application whose access to revoke.",
        "Wählen Sie die Anwendung, deren Zugriff entzogen werden soll.",
    ),
    (
        "Choose allow or deny.",
        "Wählen Sie Erlauben oder Ablehnen.",
    ),
];

/// `english`, a message worded outside the pages, in `lang` (see [`MESSAGES`]).
pub fn say(lang: Lang, english: &str) -> &str {
    match lang {
        Lang::En => english,
        Lang::De => MESSAGES
            .iter()
            .find(|(en, _)| *en == english)
            .map_or(english, |m| m.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::rules::AdAccountState;
    use crate::service::login::LoginError;
    use crate::service::mfa::MfaError;
    use crate::service::second_factor::StepError;

    fn translated(english: &str) {
        assert_ne!(say(Lang::De, english), english, "no German for {english:?}");
        assert_eq!(say(Lang::En, english), english);
    }

    #[test]
    fn every_fixed_message_of_the_2fa_service_has_a_german_text() {
        for e in [
            MfaError::WrongCode,
            MfaError::Replayed,
            MfaError::Locked,
            MfaError::NotEnrolled,
            MfaError::AlreadyEnrolled,
            MfaError::EnrolmentExpired,
            MfaError::PolicyOff,
            MfaError::Required,
        ] {
            translated(&e.to_string());
        }
        for e in [StepError::Gone, StepError::Restart(String::new())] {
            translated(&e.to_string());
        }
        for code in ["", "12345", "1234567"] {
            if let crate::mfa::totp::CodeInput::Malformed(m) =
                crate::mfa::totp::CodeInput::parse(code)
            {
                translated(m);
            }
        }
    }

    #[test]
    fn every_directory_account_state_has_a_german_text() {
        use AdAccountState::*;
        for s in [
            BadCredentials,
            LogonHours,
            Workstation,
            PasswordExpired,
            Disabled,
            AccountExpired,
            MustChange,
            Locked,
        ] {
            translated(s.message());
        }
        for e in [
            LoginError::BadCredentials,
            LoginError::Disabled,
            LoginError::DirectoryUnavailable,
        ] {
            translated(&e.to_string());
        }
    }

    #[test]
    fn german_messages_are_distinct_and_the_german_failure_matches_the_login_page() {
        let mut de: Vec<&str> = MESSAGES.iter().map(|m| m.1).collect();
        de.sort_unstable();
        de.dedup();
        assert_eq!(de.len(), MESSAGES.len());
        assert_eq!(
            say(Lang::De, "invalid username or password"),
            DE.login_failed
        );
        assert_eq!(say(Lang::De, "unknown text"), "unknown text");
    }
}
