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
};

/// The catalogue of `lang`.
pub fn text(lang: Lang) -> &'static Text {
    match lang {
        Lang::En => &EN,
        Lang::De => &DE,
    }
}
