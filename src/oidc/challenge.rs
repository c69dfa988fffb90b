//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1): what a resource server or the token
//! endpoint says about a refused token, as `scheme param="value", param=token, …`, possibly
//! several challenges in one field (the browser joins repeated fields with `, `).

/// The parameter `name` (case-insensitive) of the challenge for `scheme` (case-insensitive),
/// quoted-string escapes undone. `None` when there is no such challenge or parameter, or
/// the header does not parse.
pub fn param(header: &str, scheme: &str, name: &str) -> Option<String> {
    let is_separator = |c: char| matches!(c, '=' | ',' | ' ' | '\t');
    let mut rest = header;
    let mut in_scheme = false;
    loop {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        if rest.is_empty() {
            return None;
        }
        let end = rest.find(is_separator).unwrap_or(rest.len());
        let (token, after) = rest.split_at(end);
        if token.is_empty() {
            return None;
        }
        match after.trim_start_matches([' ', '\t']).strip_prefix('=') {
            Some(value) => {
                let (value, remaining) = read_value(value.trim_start_matches([' ', '\t']))?;
                if in_scheme && token.eq_ignore_ascii_case(name) {
                    return Some(value);
                }
                rest = remaining;
            }
            None => {
                in_scheme = token.eq_ignore_ascii_case(scheme);
                rest = after;
            }
        }
    }
}

/// A quoted string or a token, and what follows it.
fn read_value(text: &str) -> Option<(String, &str)> {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find([',', ' ', '\t']).unwrap_or(text.len());
        return Some((text[..end].to_string(), &text[end..]));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    loop {
        match chars.next()? {
            (_, '\\') => value.push(chars.next()?.1),
            (i, '"') => return Some((value, &quoted[i + 1..])),
            (_, c) => value.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_and_token_values_of_the_named_scheme() {
        let header =
            r#"Bearer realm="appointments", error="insufficient_scope", scope="read:appointments""#;
        assert_eq!(
            param(header, "Bearer", "scope").as_deref(),
            Some("read:appointments")
        );
        assert_eq!(
            param(header, "bearer", "ERROR").as_deref(),
            Some("insufficient_scope")
        );
        assert_eq!(param(header, "DPoP", "scope"), None);
        assert_eq!(
            param(r#"Bearer error="x", scope="a \"b\"""#, "Bearer", "scope").as_deref(),
            Some(r#"a "b""#)
        );
        assert_eq!(
            param("DPoP error=use_dpop_nonce, algs=ES256", "DPoP", "error").as_deref(),
            Some("use_dpop_nonce")
        );
        assert_eq!(
            param(r#"DPoP error = "use_dpop_nonce""#, "DPoP", "error").as_deref(),
            Some("use_dpop_nonce")
        );
    }

    #[test]
    fn finds_the_scheme_among_several_challenges() {
        let joined = r#"Bearer realm="api", error="invalid_token", DPoP algs="ES256", error="use_dpop_nonce""#;
        assert_eq!(
            param(joined, "DPoP", "error").as_deref(),
            Some("use_dpop_nonce")
        );
        assert_eq!(
            param(joined, "Bearer", "error").as_deref(),
            Some("invalid_token")
        );
    }

    #[test]
    fn a_parameter_value_is_not_mistaken_for_a_parameter() {
        let header =
            r#"DPoP error="invalid_token", error_description="not error=\"use_dpop_nonce\"""#;
        assert_eq!(
            param(header, "DPoP", "error").as_deref(),
            Some("invalid_token")
        );
    }

    #[test]
    fn survives_hostile_headers() {
        for header in [
            "",
            "Bearer",
            "Bearer scope",
            "Bearer scope=\"unterminated",
            "Basic scope=\"x\"",
            "Bearer a=\"\\",
            "Bearer =x, scope=\"y\"",
            "\"Bearer\" scope=\"x\"",
        ] {
            assert_eq!(param(header, "Bearer", "scope"), None, "{header}");
        }
    }
}
