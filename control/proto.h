/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control wire format, the one header that the daemon (dataplane/
 * ctl_server.c) and blctl (control/client.c) share. No DPDK, no jansson:
 * constants and the shape of the messages.
 *
 * Transport: a Unix stream socket (default BL_PROTO_DEFAULT_SOCKET). One
 * request and one reply per line: a JSON object, UTF-8, ended by '\n',
 * at most max_line bytes including the '\n' (BL_PROTO_MAX_LINE unless the
 * daemon's `control: {max_line}` says otherwise; `status` reports it).
 * A longer request line is answered with BL_PROTO_E_TOO_LONG and the
 * connection closed. Replies may be longer than max_line (a policy's text,
 * a page of flows); a client accepts replies up to BL_PROTO_MAX_REPLY.
 *
 *   request: {"v":1,"id":N,"cmd":"policy.load","args":{...}}
 *   ok:      {"v":1,"id":N,"ok":true,"result":{...}}
 *   error:   {"v":1,"id":N,"ok":false,"error":{"code":"refused",
 *             "message":"...","diags":[{"file","line","column","message"}]}}
 *
 * "id" is the client's (any integer, echoed); "v" must be BL_PROTO_VERSION
 * (another version is answered with BL_PROTO_E_VERSION and the versions
 * the daemon speaks). Requests on one connection are answered in order.
 *
 * Large payloads (a policy and its list files) go in chunks:
 *   upload.begin  {"policy":NAME, "files":[{"name":N,"size":BYTES},...]}
 *                 -> {"upload":ID}     (policy NAME must be among files)
 *   upload.chunk  {"upload":ID, "name":N, "offset":BYTES, "b64":"..."}
 *                 (or "data": a JSON string) -> {"received":BYTES}
 *   policy.load|check|diff {"upload":ID}  (the upload is consumed)
 * Chunks of a file arrive in order (offset = bytes received so far). The
 * sizes of one upload are bounded by max_upload (BL_PROTO_MAX_UPLOAD by
 * default), the sum over every open upload too; an upload belongs to its
 * connection and is dropped when it closes. Small policies may instead be
 * sent inline: {"name":N, "text":T, "files":{NAME:TEXT,...}}.
 * The daemon never opens a path a client names: names are only keys.
 *
 * Commands (args -> result; [M] mutates, logged with caller uid/pid):
 *   status            {} -> {version, proto, uptime_s, generation, sha256,
 *                     policy, ports:[{name,up}], workers, max_line, ...}
 *   stats             {} -> the --stats-json object (dataplane/stats.c)
 *   flows             {prefix?, port?, rule?, verdict?, limit?, cursor?}
 *                     -> {flows:[...], cursor: C|null, scanned, skipped}
 *   policy.check      policy -> {ok, rules, lists, entries, sha256, build_ms}
 *   policy.load  [M]  policy -> {generation, build_ms, publish_us, sha256}
 *   policy.show       {files?:bool} -> {generation, sha256, name, text,
 *                     loaded_at, by_uid, by_pid, files?:{NAME:TEXT}}
 *   policy.diff       policy -> {rules:{added,removed,changed,moved},
 *                     lists:{NAME:{added,removed}}, default?}
 *   policy.rollback [M] {} -> {generation, build_ms, publish_us, sha256}
 *   list.add|del [M]  {list, entries:[...]} -> {path, added|removed, ...}
 *   list.show         {list, limit?} -> {list, type, n, entries:[...]}
 */
#ifndef BL_CONTROL_PROTO_H
#define BL_CONTROL_PROTO_H

#define BL_PROTO_VERSION	1
#define BL_PROTO_DEFAULT_SOCKET "/run/brightline/control.sock"
#define BL_PROTO_DEFAULT_GROUP	"brightline"
#define BL_PROTO_MAX_LINE	(1u << 20)	/* request line, bytes */
#define BL_PROTO_MIN_LINE	(128u << 10)	/* smallest max_line accepted */
#define BL_PROTO_MAX_UPLOAD	(256ull << 20)	/* one upload, all uploads */
#define BL_PROTO_MAX_REPLY	(1024ull << 20) /* reply line a client accepts */
#define BL_PROTO_CHUNK		(64u << 10)	/* raw bytes per upload.chunk (blctl) */
#define BL_PROTO_MAX_CLIENTS	64u
#define BL_PROTO_IDLE_TIMEOUT	60u    /* s without a request */
#define BL_PROTO_LINE_TIMEOUT	5u     /* s for a partial line or a reply to drain */
#define BL_PROTO_FLOWS_LIMIT	100u   /* flows per page by default */
#define BL_PROTO_FLOWS_MAX	10000u /* flows per page at most */

/* error.code values */
#define BL_PROTO_E_BAD_JSON    "bad_json"    /* the line is not a JSON object */
#define BL_PROTO_E_BAD_REQUEST "bad_request" /* missing/ill-typed field or argument */
#define BL_PROTO_E_VERSION     "version"     /* "v" not spoken */
#define BL_PROTO_E_UNKNOWN     "unknown_command"
#define BL_PROTO_E_DENIED      "denied"	   /* caller not allowed (then disconnected) */
#define BL_PROTO_E_TOO_LONG    "too_long"  /* line over max_line (then disconnected) */
#define BL_PROTO_E_TOO_BIG     "too_big"   /* upload over max_upload */
#define BL_PROTO_E_REFUSED     "refused"   /* policy refused: see diags */
#define BL_PROTO_E_NOT_FOUND   "not_found" /* no such list, upload, generation */
#define BL_PROTO_E_BUSY	       "busy"	   /* too many clients (then disconnected) */
#define BL_PROTO_E_NO_MEMORY   "no_memory"
#define BL_PROTO_E_INTERNAL    "internal"

#endif /* BL_CONTROL_PROTO_H */
