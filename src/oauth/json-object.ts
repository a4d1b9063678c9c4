/**
 * Replace one top-level member of a JSON object text without touching a byte of the others.
 * A parse/stringify round trip would keep the values but not their exact text (number formats,
 * escapes, key order, indentation), and the issue says a shared file keeps every key it does not
 * own exactly as it was: other programs (e.g. Claude Code) own those keys.
 */

interface Member {
  key: string;
  /** Offset of the key's opening quote. */
  keyStart: number;
  /** The value's span. */
  start: number;
  end: number;
}

const WS = new Set([" ", "\t", "\n", "\r"]);

function skipWs(text: string, i: number): number {
  while (i < text.length && WS.has(text[i]!)) i++;
  return i;
}

function skipString(text: string, i: number): number {
  // text[i] is the opening quote of a string already validated by JSON.parse.
  for (i++; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === '"') return i + 1;
  }
  return i;
}

function skipValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return skipString(text, i);
  if (c === "{" || c === "[") {
    let depth = 0;
    for (; i < text.length; i++) {
      const d = text[i];
      if (d === '"') {
        i = skipString(text, i) - 1;
      } else if (d === "{" || d === "[") depth++;
      else if (d === "}" || d === "]") {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return i;
  }
  while (i < text.length && !WS.has(text[i]!) && text[i] !== "," && text[i] !== "}" && text[i] !== "]") i++;
  return i;
}

/**
 * Every top-level member in text order, duplicates included (JSON allows them; JSON.parse keeps
 * the last), and the offsets of '{' and '}'.
 */
function members(text: string): { list: Member[]; open: number; close: number } {
  const list: Member[] = [];
  let i = skipWs(text, 0);
  const open = i;
  i = skipWs(text, i + 1);
  while (text[i] === '"') {
    const keyStart = i;
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, keyEnd);
    i = skipWs(text, i + 1); // past ':'
    const end = skipValue(text, i);
    list.push({ key, keyStart, start: i, end });
    i = skipWs(text, end);
    if (text[i] === ",") i = skipWs(text, i + 1);
  }
  return { list, open, close: i };
}

/** The indentation unit the file uses ("" when it is on one line). */
function indentOf(text: string): string {
  const m = /\n([ \t]+)"/.exec(text);
  return m ? m[1]! : "";
}

/**
 * `text` (a JSON object, already validated with JSON.parse) with member `key` set to `value`.
 * Other members keep their exact bytes; a new key is appended at the end.
 */
export function setMember(text: string, key: string, value: unknown): string {
  // Earlier duplicates of `key` would keep old values (old secrets) in the file: drop them first.
  let { list, open, close } = members(text);
  while (list.filter((m) => m.key === key).length > 1) {
    text = removeAt(text, list, open, close, list.findIndex((m) => m.key === key));
    ({ list, open, close } = members(text));
  }
  const unit = indentOf(text);
  const pretty = unit !== "" || text.slice(open, close).includes("\n");
  const serialized = pretty
    ? JSON.stringify(value, null, unit || 2).replace(/\n/g, `\n${unit || "  "}`)
    : JSON.stringify(value);
  const span = list.find((m) => m.key === key);
  if (span) return text.slice(0, span.start) + serialized + text.slice(span.end);
  const member = `${JSON.stringify(key)}:${pretty ? " " : ""}${serialized}`;
  if (list.length === 0) {
    return pretty
      ? `${text.slice(0, open)}{\n${unit || "  "}${member}\n}${text.slice(close + 1)}`
      : `${text.slice(0, open)}{${member}}${text.slice(close + 1)}`;
  }
  // Insert after the last member's value, before any whitespace preceding '}'.
  const last = list[list.length - 1]!.end;
  const sep = pretty ? `,\n${unit || "  "}` : ",";
  return text.slice(0, last) + sep + member + text.slice(last);
}

/** `text` without the member at index `idx` of `list` (other members' bytes unchanged). */
function removeAt(text: string, list: Member[], open: number, close: number, idx: number): string {
  // Not last: from its key to the next key (its comma goes with it).
  if (idx < list.length - 1) return text.slice(0, list[idx]!.keyStart) + text.slice(list[idx + 1]!.keyStart);
  // Last member: drop from the previous value's end (its comma goes too) to this value's end.
  const from = idx > 0 ? list[idx - 1]!.end : open + 1;
  const tail = text.slice(list[idx]!.end, close);
  return text.slice(0, from) + (idx > 0 ? tail : tail.trimStart()) + text.slice(close);
}

/** `text` without member `key`, every duplicate of it included; the same text when absent. */
export function deleteMember(text: string, key: string): string {
  for (;;) {
    const { list, open, close } = members(text);
    const idx = list.findIndex((m) => m.key === key);
    if (idx === -1) return text;
    text = removeAt(text, list, open, close, idx);
  }
}
