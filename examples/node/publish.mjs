#!/usr/bin/env node
// A publisher of egovtrack events: a unit's own system, in JavaScript. See README.md beside it.
//
//   node publish.mjs publish --server URL --seed FILE [--source URI] [--submitted-by NAME] EVENTS.json
//   node publish.mjs headers --seed FILE [--submitted-by NAME] EVENT.json
//   node publish.mjs check-vectors VECTORS.json

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { jetstream } from "@nats-io/jetstream";
import { fromPublic, fromSeed } from "@nats-io/nkeys";
import { connect, headers, nkeyAuthenticator } from "@nats-io/transport-node";

import { ContractError, EVENT_TYPES, ID_NAMESPACE, SIGNATURE_LABEL, checkEvent, canonicalData, makeEvent, normalize, signedBytes, subjectOf, idOf } from "./contract.mjs";

const usage = `usage:
  node publish.mjs publish --server URL --seed FILE [--source URI] [--submitted-by NAME] [--timeout MS] EVENTS.json
      publish the events of EVENTS.json, a JSON array of {"type": …, "data": …}, as the credential of FILE;
      prints "published <id> <subject> seq <n>" for each event JetStream acknowledged, exits 1 if any was not
  node publish.mjs headers --seed FILE [--submitted-by NAME] EVENT.json
      print, as shell assignments, the subject, the event's id, the message id and the signature headers of the
      event in EVENT.json, its bytes as they are in the file (for the nats command: internal/event/publishing.md)
  node publish.mjs check-vectors VECTORS.json
      check this publisher against egovtrack's conformance vectors (internal/event/conformance/vectors.json)`;

// Credential is a unit's seed file: the seed, its public key and the name the file gives it.
function loadCredential(file) {
  const text = readFileSync(file, "utf8");
  const seed = text.split(/\r?\n/).map((l) => l.trim()).find((l) => /^SU[A-Z2-7]{56}$/.test(l));
  if (!seed) throw new Error(`${file}: no user nkey seed (a line starting SU)`);
  const name = /^#\s*credential:\s*(\S+)/m.exec(text)?.[1] ?? "";
  return credentialOf(seed, name);
}

function credentialOf(seed, name) {
  const seedBytes = new TextEncoder().encode(seed);
  const kp = fromSeed(seedBytes);
  return { seedBytes, kp, publicKey: kp.getPublicKey(), name };
}

// sign returns the three signature headers' values for a payload published on subject.
function sign(cred, subject, submittedBy, payload) {
  const sig = cred.kp.sign(signedBytes(subject, submittedBy, payload));
  return { submittedBy, signer: cred.publicKey, signature: Buffer.from(sig).toString("base64url") };
}

async function publish(args) {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      server: { type: "string" }, seed: { type: "string" }, source: { type: "string", default: "/example/node" },
      "submitted-by": { type: "string" }, timeout: { type: "string", default: "10000" },
      // For tests of the projector's check: change one character of each signature after signing.
      tamper: { type: "boolean", default: false },
    },
  });
  if (!values.server || !values.seed || positionals.length !== 1) throw new UsageError();
  const cred = loadCredential(values.seed);
  const by = values["submitted-by"] ?? cred.name;
  const input = JSON.parse(readFileSync(positionals[0], "utf8"));
  if (!Array.isArray(input)) throw new Error(`${positionals[0]}: want a JSON array of {"type": …, "data": …}`);
  // Every event is made and checked before anything is sent.
  const events = input.map((e, i) => {
    try {
      return makeEvent(values.source, e.type, e.data);
    } catch (err) {
      throw new Error(`event ${i}: ${err.message}`);
    }
  });

  const nc = await connect({
    servers: values.server,
    authenticator: nkeyAuthenticator(cred.seedBytes),
    // Replies (JetStream's acknowledgements) come to this credential's own inboxes only.
    inboxPrefix: `_INBOX.${cred.publicKey}`,
    timeout: Number(values.timeout),
  });
  let failed = 0;
  try {
    const js = jetstream(nc, { timeout: Number(values.timeout) });
    for (const env of events) {
      const payload = new TextEncoder().encode(JSON.stringify(env));
      const s = sign(cred, env.subject, by, payload);
      if (values.tamper) s.signature = (s.signature[0] === "A" ? "B" : "A") + s.signature.slice(1);
      const h = headers();
      if (s.submittedBy) h.set("Egov-Submitted-By", s.submittedBy);
      h.set("Egov-Signer", s.signer);
      h.set("Egov-Signature", s.signature);
      try {
        // The signature, not the event's id, is the message's id: JetStream drops a second message with an id it has
        // seen on any subject, and an event's id is public content, which any unit could claim first (publishing.md).
        const ack = await js.publish(env.subject, payload, { msgID: s.signature, headers: h });
        console.log(`published ${env.id} ${env.subject} seq ${ack.seq}${ack.duplicate ? " (duplicate)" : ""}`);
      } catch (err) {
        failed++;
        console.error(`not published ${env.id} ${env.subject}: ${err.message}`);
      }
    }
  } finally {
    await nc.close();
  }
  if (failed > 0) {
    console.error(`${failed} of ${events.length} events were not acknowledged`);
    process.exitCode = 1;
  }
}

function printHeaders(args) {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, options: { seed: { type: "string" }, "submitted-by": { type: "string" } },
  });
  if (!values.seed || positionals.length !== 1) throw new UsageError();
  const cred = loadCredential(values.seed);
  const payload = readFileSync(positionals[0]);
  const env = JSON.parse(payload.toString("utf8"));
  checkEvent(env);
  const s = sign(cred, env.subject, values["submitted-by"] ?? cred.name, payload);
  const q = (v) => `'${String(v).replaceAll("'", `'\\''`)}'`;
  console.log(`SUBJECT=${q(env.subject)}`);
  console.log(`EVENT_ID=${q(env.id)}`);
  console.log(`MSG_ID=${q(s.signature)}`);
  console.log(`SUBMITTED_BY=${q(s.submittedBy)}`);
  console.log(`SIGNER=${q(s.signer)}`);
  console.log(`SIGNATURE=${q(s.signature)}`);
}

// checkVectors computes every vector's subject, canonical bytes, id, signed bytes and signature, and checks every
// refusal is refused on its field. It prints a line per mismatch and a summary.
function checkVectors(args) {
  const { positionals } = parseArgs({ args, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError();
  const f = JSON.parse(readFileSync(positionals[0], "utf8"));
  let passed = 0;
  let failed = 0;
  const check = (name, what, got, want) => {
    if (got === want) return true;
    console.error(`FAIL ${name}: ${what} is\n  ${JSON.stringify(got)}\nwant\n  ${JSON.stringify(want)}`);
    return false;
  };
  const cred = credentialOf(f.signing.test_seed, "");
  const types = new Set();
  let ok = check("signing", "label", f.signing.label, SIGNATURE_LABEL) &&
    check("signing", "public key", cred.publicKey, f.signing.test_public_key) &&
    check("ids", "namespace", f.id_namespace, ID_NAMESPACE);
  ok ? passed++ : failed++;
  for (const v of f.vectors) {
    types.add(v.type);
    try {
      const d = normalize(v.type, v.input);
      const subject = subjectOf(v.type, d);
      const canonical = canonicalData(d);
      const id = idOf(v.type, subject, canonical);
      const payload = new TextEncoder().encode(v.payload);
      const signed = signedBytes(subject, v.submitted_by, payload);
      const s = sign(cred, subject, v.submitted_by, payload);
      const made = makeEvent(f.source, v.type, v.input);
      ok = check(v.name, "subject", subject, v.subject) &&
        check(v.name, "canonical", new TextDecoder().decode(canonical), v.canonical) &&
        check(v.name, "id", id, v.id) &&
        check(v.name, "id of the event made", made.id, v.id) &&
        check(v.name, "the payload's event", checkEvent(JSON.parse(v.payload)).id, v.id) &&
        check(v.name, "signed", new TextDecoder().decode(signed), v.signed) &&
        check(v.name, "signature", s.signature, v.signature) &&
        check(v.name, "signature verifies", fromPublic(f.signing.test_public_key).verify(signed, Buffer.from(v.signature, "base64url")), true);
    } catch (err) {
      ok = check(v.name, "error", err.message, undefined);
    }
    ok ? passed++ : failed++;
  }
  for (const r of f.refused) {
    let field;
    try {
      checkEvent(JSON.parse(r.payload));
    } catch (err) {
      if (!(err instanceof ContractError)) throw err;
      field = err.field;
    }
    check(`refused: ${r.name}`, "the field refused", field, r.field) ? passed++ : failed++;
  }
  for (const t of EVENT_TYPES) {
    check("vectors", `a vector of ${t}`, types.has(t), true) ? passed++ : failed++;
  }
  console.log(`${passed} passed, ${failed} failed`);
  if (failed > 0) process.exitCode = 1;
}

class UsageError extends Error {}

const [mode, ...rest] = process.argv.slice(2);
const modes = { publish, headers: printHeaders, "check-vectors": checkVectors };
try {
  if (!modes[mode]) throw new UsageError();
  await modes[mode](rest);
} catch (err) {
  console.error(err instanceof UsageError ? usage : `error: ${err.message}`);
  process.exitCode = 2;
}
