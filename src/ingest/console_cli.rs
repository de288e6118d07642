//! `herald nodes`, `herald node NAME`, `herald groups`, `herald tail NAME`,
//! `herald operations`, `herald dead-letters NODE [--resend ID]`:
//! the console API (`console_api.rs`) and the SSE stream from a shell,
//! as readable tables or, with `--json`, the API's JSON as is.

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::client::{self, ClientError};

/// Where and as whom.
pub struct Target {
    pub url: String,
    pub token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("HTTP {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("the answer is not JSON: {0}")]
    Json(String),
}

async fn get(t: &Target, path: &str) -> Result<Value, CliError> {
    send(t, "GET", path).await
}

async fn send(t: &Target, method: &str, path: &str) -> Result<Value, CliError> {
    let auth = format!("Bearer {}", t.token);
    let resp = client::request(method, &t.url, path, &[("Authorization", &auth)], b"").await?;
    let value: Value =
        serde_json::from_str(&resp.body).map_err(|e| CliError::Json(e.to_string()))?;
    if !(200..300).contains(&resp.status) {
        let message = value["message"].as_str().unwrap_or("").to_owned();
        return Err(CliError::Refused {
            status: resp.status,
            message,
        });
    }
    Ok(value)
}

/// Left-aligned columns, two spaces apart.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = (cells.iter().zip(&widths))
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Every node the token may see (all pages).
pub async fn nodes(t: &Target, json: bool) -> Result<String, CliError> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/nodes?limit=1000&after={}", client::encode_segment(a)),
            None => "/v1/nodes?limit=1000".to_owned(),
        };
        let page = get(t, &path).await?;
        all.extend(page["nodes"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    if json {
        return Ok(serde_json::json!({ "nodes": all }).to_string() + "\n");
    }
    let rows: Vec<Vec<String>> = (all.iter())
        .map(|n| {
            ["node", "items", "history", "subscriptions", "title"]
                .iter()
                .map(|k| text(&n[*k]))
                .collect()
        })
        .collect();
    Ok(table(
        &["NODE", "ITEMS", "HISTORY", "SUBSCRIPTIONS", "TITLE"],
        &rows,
    ))
}

pub async fn node(t: &Target, name: &str, json: bool) -> Result<String, CliError> {
    let v = get(t, &format!("/v1/nodes/{}", client::encode_segment(name))).await?;
    if json {
        return Ok(v.to_string() + "\n");
    }
    let mut out = String::new();
    for key in [
        "node",
        "title",
        "items",
        "history",
        "sequence",
        "last_publish",
    ] {
        out.push_str(&format!("{key:<14}{}\n", text(&v[key])));
    }
    let subs: Vec<Vec<String>> = (v["subscribers"].as_array().into_iter().flatten())
        .map(|s| vec![text(&s["jid"]), text(&s["state"]), text(&s["subid"])])
        .collect();
    out.push_str(&format!("\nsubscribers ({})\n", subs.len()));
    out.push_str(&table(&["JID", "STATE", "SUBID"], &subs));
    out.push_str("\nconfiguration\n");
    if let Some(config) = v["config"].as_object() {
        for (var, values) in config {
            let shown: Vec<String> = (values.as_array().into_iter().flatten())
                .map(text)
                .collect();
            out.push_str(&format!("  {var:<34}{}\n", shown.join(", ")));
        }
    }
    Ok(out)
}

pub async fn groups(t: &Target, json: bool) -> Result<String, CliError> {
    let v = get(t, "/v1/groups").await?;
    if json {
        return Ok(v.to_string() + "\n");
    }
    let rows: Vec<Vec<String>> = (v["groups"].as_array().into_iter().flatten())
        .map(|g| {
            let mut row: Vec<String> = ["node", "group", "backlog", "lag", "held", "redeliveries"]
                .iter()
                .map(|k| text(&g[*k]))
                .collect();
            let members = g["members"].as_array().map_or(0, Vec::len);
            row.push(members.to_string());
            row
        })
        .collect();
    let header = [
        "NODE",
        "GROUP",
        "BACKLOG",
        "LAG",
        "HELD",
        "REDELIVERIES",
        "MEMBERS",
    ];
    let mut out = table(&header, &rows);
    out.push_str(&format!("dead letters: {}\n", text(&v["dead_letters"])));
    Ok(out)
}

pub async fn operations(t: &Target, json: bool) -> Result<String, CliError> {
    let v = get(t, "/v1/operations").await?;
    if json {
        return Ok(v.to_string() + "\n");
    }
    let listed = ["running", "finished"].map(|k| v[k].as_array().cloned().unwrap_or_default());
    let rows: Vec<Vec<String>> = (listed.iter().flatten())
        .map(|r| {
            let mut row: Vec<String> = ["kind", "target", "state", "done", "total"]
                .iter()
                .map(|k| text(&r[*k]))
                .collect();
            let ms = r["elapsed_ms"].as_u64().unwrap_or(0);
            row.push(format!("{:.1}s", ms as f64 / 1000.0));
            row.push(text(&r["error"]));
            row
        })
        .collect();
    let header = [
        "KIND", "TARGET", "STATE", "DONE", "TOTAL", "ELAPSED", "ERROR",
    ];
    Ok(table(&header, &rows))
}

pub async fn dead_letters(
    t: &Target,
    node: &str,
    resend: Option<&str>,
    json: bool,
) -> Result<String, CliError> {
    let node_path = client::encode_segment(node);
    if let Some(item) = resend {
        let path = format!(
            "/v1/nodes/{node_path}/dead-letters/{}/resend",
            client::encode_segment(item)
        );
        let v = send(t, "POST", &path).await?;
        return Ok(match json {
            true => v.to_string() + "\n",
            false => format!("resent {item} to {node}\n"),
        });
    }
    let v = get(t, &format!("/v1/nodes/{node_path}/dead-letters")).await?;
    if json {
        return Ok(v.to_string() + "\n");
    }
    let rows: Vec<Vec<String>> = (v["dead_letters"].as_array().into_iter().flatten())
        .map(|d| vec![text(&d["item_id"]), text(&d["time"])])
        .collect();
    Ok(table(&["ITEM", "DEAD SINCE"], &rows))
}

/// Follows a node's SSE stream, printing each event as it comes (one
/// line: `id event data`, or the data alone with `--json`); stops after
/// `count` events if given.
pub async fn tail(
    t: &Target,
    name: &str,
    last_event_id: Option<&str>,
    count: Option<usize>,
    json: bool,
    mut print: impl FnMut(&str),
) -> Result<(), CliError> {
    let (addr, host, base) = client::parse_url(&t.url)?;
    let io = |source| ClientError::Io {
        addr: addr.clone(),
        source,
    };
    let mut stream = TcpStream::connect(&addr).await.map_err(io)?;
    let mut head = format!(
        "GET {base}/v1/nodes/{}/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n",
        client::encode_segment(name),
        t.token
    );
    if let Some(id) = last_event_id {
        head.push_str(&format!("Last-Event-ID: {id}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.map_err(io)?;
    let mut lines = BufReader::new(stream).lines();
    let status_line = lines.next_line().await.map_err(io)?.unwrap_or_default();
    let status: u16 = (status_line.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if status != 200 {
        return Err(CliError::Refused {
            status,
            message: "the stream was refused (see the token's scopes)".into(),
        });
    }
    // Headers, then chunked SSE: chunk-size lines are skipped (they are
    // hex digits alone; SSE lines always have a field name and a colon).
    while let Some(line) = lines.next_line().await.map_err(io)? {
        if line.is_empty() {
            break;
        }
    }
    let (mut id, mut event, mut seen) = (String::new(), String::new(), 0usize);
    while let Some(line) = lines.next_line().await.map_err(io)? {
        if let Some(v) = line.strip_prefix("id: ") {
            id = v.to_owned();
        } else if let Some(v) = line.strip_prefix("event: ") {
            event = v.to_owned();
        } else if let Some(data) = line.strip_prefix("data: ") {
            match json {
                true => print(data),
                false => print(&format!("{id} {event} {data}")),
            }
            seen += 1;
            if count.is_some_and(|c| seen >= c) {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_to_the_widest_cell() {
        let rows = vec![
            vec!["apps".to_owned(), "3".to_owned()],
            vec!["billing.invoices".to_owned(), "12".to_owned()],
        ];
        let t = table(&["NODE", "ITEMS"], &rows);
        assert_eq!(
            t,
            "NODE              ITEMS\napps              3\nbilling.invoices  12\n"
        );
    }
}
