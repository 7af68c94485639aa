// egovtrack's event contract as internal/event/README.md and publishing.md state it: subjects, the normalized data,
// ids, and the bytes a signature covers. Written from those pages and the conformance vectors, not from egovtrack's
// Go code.

import canonicalize from "canonicalize";
import { v5 as uuidv5 } from "uuid";

export const ID_NAMESPACE = "8f0c7a52-9a3e-4c1e-9d0b-5b8e3f1f6a21";
export const SIGNATURE_LABEL = "egovtrack event signature v1\n";

// A contract error names the field of the event it is about, as egovtrack does ("data.level").
export class ContractError extends Error {
  constructor(field, message) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

const unit = { required: true, kind: "unit" };
const text = { required: true, kind: "text" };
const optionalText = { required: false, kind: "text" };
const level = { required: true, kind: "level" };
const time = { required: true, kind: "time" };
const count = { required: true, kind: "count" };
const plain = (kind) => ({ required: true, kind });
const list = (item) => ({ required: true, kind: "array", item });
const dossier = { required: true, kind: "digest" }; // a SHA-256 in lower-case hex, as a report's digest

// The fields of each type's data (its schema's properties), and the one whose time is the event's.
const TYPES = {
  "gov.egov.procedure.registered.v1": {
    fields: { unit, procedure: plain("string"), name: text, sector: text, eligible: plain("boolean"), level, effective_at: time },
    time: "effective_at",
  },
  "gov.egov.procedure.level_changed.v1": {
    fields: { unit, procedure: plain("string"), from: level, to: level, effective_at: time },
    time: "effective_at",
  },
  "gov.egov.procedure.retired.v1": {
    fields: { unit, procedure: plain("string"), reason: optionalText, effective_at: time },
    time: "effective_at",
  },
  "gov.egov.assistant.stage_changed.v1": {
    fields: { unit, stage: plain("string"), users: { required: false, kind: "count" }, effective_at: time },
    time: "effective_at",
  },
  "gov.egov.report.submitted.v1": {
    fields: {
      unit, collector: plain("string"), reported_at: time,
      counts: { required: true, kind: "object", fields: { registered: count, changed: count, retired: count, unchanged: count } },
      digest: { required: false, kind: "digest" },
    },
    time: "reported_at",
  },
  "gov.egov.target.set.v1": {
    fields: {
      metric: plain("string"), scope: plain("string"), baseline: plain("number"), baseline_date: plain("string"),
      target: plain("number"), deadline: plain("string"), set_at: time,
    },
    time: "set_at",
  },
  "gov.egov.unit.merged.v1": {
    fields: {
      successor: unit, name: text, predecessors: list(unit), effective_on: plain("string"),
      moved: {
        required: false, kind: "array",
        item: { kind: "object", fields: { from: unit, to: unit, procedures: list(plain("string")) } },
      },
      decided_by: optionalText, decided_at: time,
    },
    time: "decided_at",
  },
  "gov.egov.unit.renamed.v1": {
    fields: { unit, name: text, effective_on: plain("string"), decided_by: optionalText, decided_at: time },
    time: "decided_at",
  },
  "gov.egov.dossier.received.v1": {
    fields: {
      unit, procedure: plain("string"), dossier, channel: plain("string"), fee: plain("boolean"), received_at: time, due_at: time,
    },
    time: "received_at",
  },
  "gov.egov.dossier.paid.v1": { fields: { unit, dossier, online: plain("boolean"), paid_at: time }, time: "paid_at" },
  "gov.egov.dossier.settled.v1": { fields: { unit, dossier, settled_at: time }, time: "settled_at" },
  "gov.egov.dossier.result_issued.v1": { fields: { unit, dossier, electronic: plain("boolean"), issued_at: time }, time: "issued_at" },
  "gov.egov.dossier.digitised.v1": { fields: { unit, dossier, digitised_at: time }, time: "digitised_at" },
  "gov.egov.dossier.withdrawn.v1": { fields: { unit, dossier, withdrawn_at: time }, time: "withdrawn_at" },
  "gov.egov.dossier.feedback_given.v1": {
    fields: { unit, dossier, satisfied: plain("boolean"), handled_on_time: plain("boolean"), given_at: time },
    time: "given_at",
  },
};

export const EVENT_TYPES = Object.keys(TYPES);

// The words a level may be given as (README, "Levels"), spelled exactly so; a number is itself.
const LEVEL_WORDS = new Map([
  ...[1, 2, 3, 4].flatMap((n) => [[`${n}`, n], [`level ${n}`, n], [`mức ${n}`, n]]),
  ...["partial", "partial online", "partial_online", "một phần", "trực tuyến một phần"].map((w) => [w, 3]),
  ...["full", "full online", "full_online", "toàn trình", "trực tuyến toàn trình"].map((w) => [w, 4]),
]);

function normalizeLevel(v, field) {
  if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 4) return v;
  if (typeof v === "string" && LEVEL_WORDS.has(v)) return LEVEL_WORDS.get(v);
  throw new ContractError(field, `${JSON.stringify(v)} is not a level (1–4, or one of the README's words)`);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/;

// normalizeTime writes an RFC 3339 time in UTC with the shortest fraction, from its text: a Date would lose the
// digits after the milliseconds.
export function normalizeTime(v, field) {
  const m = typeof v === "string" ? RFC3339.exec(v) : null;
  if (!m) throw new ContractError(field, `${JSON.stringify(v)} is not an RFC 3339 time with an offset`);
  const [, y, mo, d, h, mi, s, fraction = "", zone, sign, oh, om] = m;
  let ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  if (zone !== "Z") ms -= (sign === "+" ? 1 : -1) * (+oh * 60 + +om) * 60_000;
  // toISOString writes .000 here: the fraction comes from the text instead, its trailing zeros stripped.
  const seconds = new Date(ms).toISOString().slice(0, 19);
  const digits = fraction.replace(/0+$/, "");
  return `${seconds}${digits ? "." + digits : ""}Z`;
}

function checkString(v, field) {
  if (typeof v !== "string") throw new ContractError(field, "must be a string");
  // A lone surrogate (JSON "\ud800") is no character: egovtrack refuses it rather than read it as U+FFFD.
  if (!v.isWellFormed()) throw new ContractError(field, "holds half of a UTF-16 surrogate pair without its other half");
  return v;
}

// What egovtrack refuses in a name, a sector or a reason (internal/event/README.md, "Texts"): a text that a
// spreadsheet would run as a formula, one holding a bidirectional control, or NUL.
const bidiControl = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
// A function call ("HYPERLINK(") or a DDE link ("cmd|"): an ASCII name starting at a word boundary.
const formulaCall = /(?:^|[^\p{L}\p{N}_.])[A-Za-z_][A-Za-z0-9_.]*[(|]/u;
// White space as Go's unicode.IsSpace counts it, which egovtrack skips before the first character.
const leadingSpace = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

function checkHarmless(v, field) {
  const chars = [...v];
  const i = chars.findIndex((c) => c === "\u0000" || bidiControl.test(c));
  if (i >= 0) {
    const code = chars[i].codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
    throw new ContractError(field, `holds U+${code} at character ${i + 1}: NUL or a bidirectional control`);
  }
  const t = v.replace(leadingSpace, "");
  if (t.startsWith("=")) throw new ContractError(field, 'starts with "=", which a spreadsheet runs as a formula');
  if (/^[+\-@]/.test(t)) {
    const rest = t.replace(/^[+\-@ \t]+/, "");
    if (rest.startsWith("=") || formulaCall.test(rest)) {
      throw new ContractError(field, `starts with "${t[0]}" followed by a formula, which a spreadsheet runs`);
    }
  }
}

function normalizeValue(spec, v, field) {
  switch (spec.kind) {
    case "unit": {
      const u = normalizeObject({ kind: plain("string"), code: plain("string") }, v, field);
      return u;
    }
    case "object":
      return normalizeObject(spec.fields, v, field);
    case "array":
      if (!Array.isArray(v)) throw new ContractError(field, "must be an array");
      return v.map((x, i) => normalizeValue(spec.item, x, `${field}[${i}]`));
    case "text":
      checkString(v, field);
      if (v.trim() === "") throw new ContractError(field, "is blank: leave an optional text out rather than send it empty");
      checkHarmless(v, field);
      return v;
    case "digest":
      checkString(v, field);
      if (!/^[0-9a-f]{64}$/.test(v)) throw new ContractError(field, "is not a SHA-256 in lower-case hex: leave it out when there is none");
      return v;
    case "string":
      return checkString(v, field);
    case "level":
      return normalizeLevel(v, field);
    case "time":
      return normalizeTime(v, field);
    case "count":
      if (!Number.isInteger(v) || v < 0) throw new ContractError(field, "must be a whole number");
      return v;
    case "number":
      if (typeof v !== "number") throw new ContractError(field, "must be a number");
      return v;
    case "boolean":
      if (typeof v !== "boolean") throw new ContractError(field, "must be true or false");
      return v;
  }
  throw new Error(`unknown kind ${spec.kind}`);
}

function normalizeObject(fields, v, field) {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new ContractError(field, "must be an object");
  const out = {};
  for (const k of Object.keys(v)) {
    checkString(k, `${field}.${k}`);
    if (!(k in fields)) throw new ContractError(`${field}.${k}`, "is not a field of this type");
  }
  for (const [k, spec] of Object.entries(fields)) {
    if (!(k in v)) {
      if (spec.required) throw new ContractError(`${field}.${k}`, "is missing");
      continue; // an optional field is there exactly when the sender gives it
    }
    out[k] = normalizeValue(spec, v[k], `${field}.${k}`);
  }
  return out;
}

// normalize returns the data of an event of type as egovtrack hashes it.
export function normalize(type, data) {
  const t = TYPES[type];
  if (!t) throw new ContractError("type", `${JSON.stringify(type)} is not an event type`);
  return normalizeObject(t.fields, data, "data");
}

// subjectOf derives the subject from normalized data (README, "Subjects").
export function subjectOf(type, d) {
  const unitPrefix = (u) => `egov.${u.kind}.${u.code}`;
  switch (type) {
    case "gov.egov.procedure.registered.v1":
    case "gov.egov.procedure.level_changed.v1":
    case "gov.egov.procedure.retired.v1":
      return `${unitPrefix(d.unit)}.proc.${d.procedure.replaceAll(".", "_")}`;
    case "gov.egov.assistant.stage_changed.v1":
      return `${unitPrefix(d.unit)}.assistant`;
    case "gov.egov.report.submitted.v1":
      return `${unitPrefix(d.unit)}.report`;
    case "gov.egov.dossier.received.v1":
    case "gov.egov.dossier.paid.v1":
    case "gov.egov.dossier.settled.v1":
    case "gov.egov.dossier.result_issued.v1":
    case "gov.egov.dossier.digitised.v1":
    case "gov.egov.dossier.withdrawn.v1":
    case "gov.egov.dossier.feedback_given.v1":
      return `${unitPrefix(d.unit)}.dossier`;
    case "gov.egov.unit.merged.v1":
      return `egov.national.lineage.${d.successor.kind}.${d.successor.code}`;
    case "gov.egov.unit.renamed.v1":
      return `egov.national.lineage.${d.unit.kind}.${d.unit.code}`;
    case "gov.egov.target.set.v1": {
      if (d.scope === "national") return `egov.national.target.${d.metric}`;
      const [kind, code] = d.scope.split("/");
      return `egov.${kind}.${code}.target.${d.metric}`;
    }
  }
  throw new ContractError("type", `${JSON.stringify(type)} is not an event type`);
}

// canonicalData is the normalized data in the JCS form (RFC 8785), as UTF-8 bytes.
export function canonicalData(normalized) {
  return new TextEncoder().encode(canonicalize(normalized));
}

// idOf is the UUIDv5 of type, a zero byte, subject, a zero byte and the canonical data.
export function idOf(type, subject, canonical) {
  const head = new TextEncoder().encode(`${type}\0${subject}\0`);
  const name = new Uint8Array(head.length + canonical.length);
  name.set(head);
  name.set(canonical, head.length);
  return uuidv5(name, ID_NAMESPACE);
}

// makeEvent builds the CloudEvents envelope of data of type, normalized, with its derived subject, time and id.
export function makeEvent(source, type, data) {
  const d = normalize(type, data);
  const subject = subjectOf(type, d);
  const id = idOf(type, subject, canonicalData(d));
  return {
    id, source, specversion: "1.0", type, subject, time: d[TYPES[type].time], datacontenttype: "application/json", data: d,
  };
}

// checkEvent holds a received envelope to the contract as far as this publisher knows it: its data normalizes, and
// its subject and id are the ones the data derives. It throws a ContractError naming the first field that is wrong.
export function checkEvent(env) {
  const d = normalize(env.type, env.data);
  const subject = subjectOf(env.type, d);
  if (env.subject !== subject) throw new ContractError("subject", `is ${env.subject}, the data's is ${subject}`);
  const id = idOf(env.type, subject, canonicalData(d));
  if (env.id !== id) throw new ContractError("id", `is ${env.id}, this fact's id is ${id}`);
  return { id, subject, data: d };
}

// signedBytes is what a signature covers: the label, the subject, the submitter, each ending in a newline, then the
// payload exactly as published.
export function signedBytes(subject, submittedBy, payload) {
  const head = new TextEncoder().encode(`${SIGNATURE_LABEL}${subject}\n${submittedBy}\n`);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}
