//! Error text for people: an error's message together with its causes.

/// An error's message followed by those of its sources, each after `": "`: what an operator
/// needs to see when a library's error keeps its cause in [`source`](std::error::Error::source)
/// (tokio-postgres shows only `db error`; the server's message is its source).
///
/// ```
/// #[derive(Debug)]
/// struct Port(std::num::ParseIntError);
///
/// impl std::fmt::Display for Port {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("the port")
///     }
/// }
///
/// impl std::error::Error for Port {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// let error = Port("x".parse::<u16>().unwrap_err());
/// assert_eq!(error.to_string(), "the port");
/// assert_eq!(
///     zvp_core::error::with_sources(&error),
///     "the port: invalid digit found in string"
/// );
/// ```
#[must_use]
pub fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
