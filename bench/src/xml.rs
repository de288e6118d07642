//! Just enough XML for a load generator: split a stream into top-level
//! stanzas and read attributes. Servers send well-formed, serialized XML,
//! so a depth counter over tags is enough and far cheaper than a DOM.

/// Feeds bytes, yields complete stanzas (depth-1 elements) as strings.
#[derive(Default)]
pub struct Splitter {
    buf: Vec<u8>,
    /// Position up to which `buf` has been scanned.
    scanned: usize,
    depth: usize,
    stanza_start: Option<usize>,
    header_seen: bool,
}

impl Splitter {
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<String>) {
        self.buf.extend_from_slice(data);
        while let Some(lt) = find(&self.buf, self.scanned, b'<') {
            let Some(gt) = tag_end(&self.buf, lt) else {
                break;
            };
            self.on_tag(lt, gt, out);
            self.scanned = gt + 1;
        }
        if self.depth == 0 || (self.depth == 1 && self.stanza_start.is_none()) {
            // Nothing pending: drop consumed bytes.
            let keep_from = self.scanned;
            self.buf.drain(..keep_from);
            self.scanned = 0;
            if let Some(s) = self.stanza_start.as_mut() {
                *s -= keep_from.min(*s);
            }
        }
    }

    fn on_tag(&mut self, lt: usize, gt: usize, out: &mut Vec<String>) {
        let tag = &self.buf[lt + 1..gt];
        if tag.first() == Some(&b'?') {
            return;
        }
        if tag.starts_with(b"stream:stream") {
            self.header_seen = true;
            self.depth = 1;
            return;
        }
        if tag.first() == Some(&b'/') {
            self.depth = self.depth.saturating_sub(1);
            if self.depth == 1 {
                self.emit(gt, out);
            }
        } else if tag.last() == Some(&b'/') {
            if self.depth == 1 {
                self.stanza_start = Some(lt);
                self.emit(gt, out);
            }
        } else {
            if self.depth == 1 {
                self.stanza_start = Some(lt);
            }
            self.depth += 1;
        }
    }

    fn emit(&mut self, gt: usize, out: &mut Vec<String>) {
        if let Some(start) = self.stanza_start.take() {
            out.push(String::from_utf8_lossy(&self.buf[start..=gt]).into_owned());
        }
    }
}

fn find(buf: &[u8], from: usize, byte: u8) -> Option<usize> {
    buf[from..]
        .iter()
        .position(|b| *b == byte)
        .map(|p| p + from)
}

/// The `>` closing the tag opened at `lt`, skipping quoted values.
fn tag_end(buf: &[u8], lt: usize) -> Option<usize> {
    let mut quote = None;
    for (i, b) in buf.iter().enumerate().skip(lt + 1) {
        match (quote, *b) {
            (None, b'"') | (None, b'\'') => quote = Some(*b),
            (Some(q), c) if c == q => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// The value of the first attribute `name` at or after `from`.
pub fn attr<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(pos) = s[from..].find(name) {
        let at = from + pos;
        let after = at + name.len();
        let preceded = at > 0 && bytes[at - 1].is_ascii_whitespace();
        if preceded && bytes.get(after) == Some(&b'=') {
            let q = *bytes.get(after + 1)?;
            let rest = &s[after + 2..];
            let end = rest.find(q as char)?;
            return Some(&rest[..end]);
        }
        from = after;
    }
    None
}

/// The first element named `tag` (its opening tag's text onwards).
pub fn element<'a>(s: &'a str, tag: &str) -> Option<&'a str> {
    let needle = format!("<{tag}");
    let mut from = 0;
    while let Some(pos) = s[from..].find(&needle) {
        let at = from + pos;
        match s.as_bytes().get(at + needle.len()) {
            Some(b' ') | Some(b'>') | Some(b'/') => return Some(&s[at..]),
            _ => from = at + needle.len(),
        }
    }
    None
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_stanzas_across_chunks() {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        let data = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='x'><iq id='1' type='result'/><message a='>'><body>hi</body></mess";
        s.feed(data.as_bytes(), &mut out);
        s.feed(b"age><presence/>", &mut out);
        assert_eq!(
            out,
            vec![
                "<iq id='1' type='result'/>",
                "<message a='>'><body>hi</body></message>",
                "<presence/>"
            ]
        );
    }

    #[test]
    fn reads_attributes() {
        let s = "<iq type='result' id=\"a1\" xid='no'/>";
        assert_eq!(attr(s, "id"), Some("a1"));
        assert_eq!(attr(s, "type"), Some("result"));
        assert!(element("<a><item id='3'/></a>", "item").is_some());
        assert!(element("<a><items/></a>", "item").is_none());
    }
}
