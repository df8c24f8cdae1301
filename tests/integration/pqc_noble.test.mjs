// Cross-implementation tests: `hanzo pqc` against @noble/post-quantum, an independent pure-JS
// implementation of ML-KEM (FIPS 203), ML-DSA (FIPS 204) and X-Wing, in both directions: our keys,
// ciphertexts and signatures accepted by noble, and noble's accepted by us. Deterministic ML-DSA
// signatures must be byte-identical; decapsulating a tampered ciphertext must give the same
// implicit-rejection secret on both sides; each side must recompute the other's public key from
// its secret key.
//
// The file formats are checked the same way: key files and sealed files are read (and a sealed
// file written) here from docs/formats/keys.md and docs/formats/sealed.md alone, with noble's
// primitives (@noble/hashes BLAKE3, HKDF, Argon2id; @noble/ciphers (X)ChaCha20-Poly1305, which
// @noble/post-quantum depends on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ml_kem512, ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { blake3 } from '@noble/hashes/blake3.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { argon2id } from '@noble/hashes/argon2.js';
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';

const BIN = process.env.HANZO_BIN;
assert.ok(BIN, 'HANZO_BIN must point at the hanzo program (ctest sets it)');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hz-noble-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

// name -> [noble object, type (1 KEM, 2 signature), algorithm id]: the ids of crypto.h
const ALGS = {
  'ml-kem-512': [ml_kem512, 1, 1], 'ml-kem-768': [ml_kem768, 1, 2], 'ml-kem-1024': [ml_kem1024, 1, 3],
  'x-wing': [ml_kem768_x25519, 1, 4],
  'ml-dsa-44': [ml_dsa44, 2, 1], 'ml-dsa-65': [ml_dsa65, 2, 2], 'ml-dsa-87': [ml_dsa87, 2, 3],
};
const KEMS = ['ml-kem-512', 'ml-kem-768', 'ml-kem-1024', 'x-wing'];
const SIGS = ['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87'];

const utf8 = (s) => new TextEncoder().encode(s);
const hex = (b) => Buffer.from(b).toString('hex');
const f = (name) => path.join(dir, name);

function hz(args, opts = {}) {
  return spawnSync(BIN, ['pqc', ...args], {
    input: opts.input, env: { ...process.env, ...(opts.env || {}) }, maxBuffer: 1 << 28,
  });
}
function ok(args, opts) {
  const r = hz(args, opts);
  if (r.status !== 0) throw new Error(`hanzo pqc ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}
const json = (args, opts) => JSON.parse(ok([...args, '--json'], opts).toString());
const raw = (alg) => ['--key-format', 'raw', '--alg', alg];

function flipBit(buf, bit) {
  const out = Buffer.from(buf);
  out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}

// ---- docs/formats/keys.md, read independently -------------------------------------------------

function readKeyFile(text, passphrase) {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  const begin = /^-----BEGIN HANZO (.+)-----$/.exec(lines[0]);
  assert.ok(begin, 'BEGIN line');
  const title = begin[1];
  assert.equal(lines[lines.length - 1], `-----END HANZO ${title}-----`);
  let i = 1;
  const headers = [];
  while (lines[i] !== '') headers.push(lines[i++]);
  i++;
  const bodyLines = [];
  while (!lines[i].startsWith('=')) bodyLines.push(lines[i++]);
  bodyLines.slice(0, -1).forEach((l) => assert.equal(l.length, 64));
  const body = Buffer.from(bodyLines.join(''), 'base64');
  const material = Buffer.concat([Buffer.from(`${lines[0]}\n${headers.map((h) => `${h}\n`).join('')}\n`), body]);
  const sum = blake3(material, { context: utf8('hanzo-node 2026 key file checksum v1'), dkLen: 6 });
  assert.equal(lines[i], `=${Buffer.from(sum).toString('base64')}`, 'checksum');

  const m = /^(.+) (PUBLIC|SECRET) KEY$/.exec(title);
  const alg = m[1].toLowerCase();
  const [noble, type, id] = ALGS[alg];
  const secret = m[2] === 'SECRET';
  assert.deepEqual(headers.slice(0, 2), ['Version: 1', headers[1]]);
  assert.deepEqual([...body.subarray(0, 4)], [1, secret ? 2 : 1, type, id]);
  const pkLen = noble.lengths.publicKey;
  const skLen = noble.lengths.secretKey;
  const pk = body.subarray(4, 4 + pkLen);
  const keyId = hex(blake3(Buffer.concat([Buffer.from([type, id]), pk]), { context: utf8('hanzo-node 2026 key id v1') }));
  assert.equal(headers[1], `Key-Id: ${keyId}`);
  if (!secret) {
    assert.equal(body.length, 4 + pkLen);
    return { alg, pk, keyId };
  }
  let at = 4 + pkLen;
  const enc = body[at++];
  let sk;
  if (enc === 0) {
    assert.equal(headers[2], 'Encryption: none');
    sk = body.subarray(at);
  } else {
    assert.equal(headers[2], 'Encryption: argon2id-xchacha20poly1305');
    const t = body.readUInt32LE(at), mKiB = body.readUInt32LE(at + 4);
    const salt = body.subarray(at + 8, at + 24), nonce = body.subarray(at + 24, at + 48);
    const kek = argon2id(utf8(passphrase), salt, { t, m: mKiB, p: 1, dkLen: 32 });
    sk = xchacha20poly1305(kek, nonce, body.subarray(0, at + 48)).decrypt(body.subarray(at + 48));
  }
  assert.equal(sk.length, skLen);
  return { alg, pk, sk, keyId };
}

// ---- KEMs ---------------------------------------------------------------------------------------

for (const alg of KEMS) {
  const noble = ALGS[alg][0];

  test(`${alg}: our keys and ciphertexts in noble`, () => {
    ok(['keygen', '--alg', alg, '--format', 'raw', '-o', f(`o-${alg}`)]);
    const pk = fs.readFileSync(f(`o-${alg}.pub`)), sk = fs.readFileSync(f(`o-${alg}.key`));
    assert.equal(hex(noble.getPublicKey(sk)), hex(pk), 'noble recomputes our public key from our secret key');

    const e = json(['encaps', ...raw(alg), '--key', f(`o-${alg}.pub`)]);
    const ct = Buffer.from(e.ciphertext, 'hex');
    assert.equal(hex(noble.decapsulate(ct, sk)), e.shared_secret, 'noble decapsulates our ciphertext');

    const n = noble.encapsulate(pk);
    fs.writeFileSync(f(`n-${alg}.ct`), n.cipherText);
    const d = json(['decaps', ...raw(alg), '--key', f(`o-${alg}.key`), f(`n-${alg}.ct`)]);
    assert.equal(d.shared_secret, hex(n.sharedSecret), 'we decapsulate noble\'s ciphertext');

    // implicit rejection: both sides derive the same unrelated secret from a modified ciphertext
    for (const bit of [0, 8 * 500 + 3, 8 * ct.length - 1]) {
      const bad = flipBit(n.cipherText, bit);
      fs.writeFileSync(f(`bad-${alg}.ct`), bad);
      const ours = json(['decaps', ...raw(alg), '--key', f(`o-${alg}.key`), f(`bad-${alg}.ct`)]).shared_secret;
      assert.equal(ours, hex(noble.decapsulate(bad, sk)), `tampered bit ${bit}: same rejection secret`);
      assert.notEqual(ours, hex(n.sharedSecret));
    }
  });

  test(`${alg}: noble's keys and ciphertexts with us`, () => {
    const k = noble.keygen();
    fs.writeFileSync(f(`n-${alg}.pub`), k.publicKey);
    fs.writeFileSync(f(`n-${alg}.key`), k.secretKey);
    const fromSk = ok(['pubkey', ...raw(alg), '--key', f(`n-${alg}.key`), '--format', 'hex']).toString().trim();
    assert.equal(fromSk, hex(k.publicKey), 'we recompute noble\'s public key from its secret key');
    const idPub = json(['pubkey', ...raw(alg), '--key', f(`n-${alg}.pub`)]).key_id;
    assert.equal(json(['pubkey', ...raw(alg), '--key', f(`n-${alg}.key`)]).key_id, idPub);

    const e = json(['encaps', ...raw(alg), '--key', f(`n-${alg}.pub`), '-o', f(`o-${alg}.ct`)]);
    assert.equal(hex(fs.readFileSync(f(`o-${alg}.ct`))), e.ciphertext);
    assert.equal(hex(noble.decapsulate(Buffer.from(e.ciphertext, 'hex'), k.secretKey)), e.shared_secret);

    const n = noble.encapsulate(k.publicKey);
    const d = ok(['decaps', ...raw(alg), '--key', f(`n-${alg}.key`)], { input: hex(n.cipherText) + '\n' });
    assert.equal(d.toString().trim(), hex(n.sharedSecret), 'hex ciphertext on standard input');
  });

  test(`${alg}: armored key files read independently`, () => {
    ok(['keygen', '--alg', alg, '-o', f(`a-${alg}`)]);
    const pub = readKeyFile(fs.readFileSync(f(`a-${alg}.pub`), 'latin1'));
    const sec = readKeyFile(fs.readFileSync(f(`a-${alg}.key`), 'latin1'));
    assert.equal(hex(sec.pk), hex(pub.pk));
    assert.equal(sec.keyId, pub.keyId);
    assert.equal(hex(noble.getPublicKey(sec.sk)), hex(pub.pk));
    assert.equal(ok(['pubkey', '--key', f(`a-${alg}.pub`), '--format', 'hex']).toString().trim(), hex(pub.pk));
    const n = noble.encapsulate(pub.pk);
    fs.writeFileSync(f(`a-${alg}.ct`), n.cipherText);
    assert.equal(json(['decaps', '--key', f(`a-${alg}.key`), f(`a-${alg}.ct`)]).shared_secret, hex(n.sharedSecret));
  });
}

// ---- signatures ---------------------------------------------------------------------------------

for (const alg of SIGS) {
  const noble = ALGS[alg][0];
  const msg = randomBytes(1000);
  const ctx = utf8('hanzo test context');

  test(`${alg}: our keys and signatures in noble`, () => {
    fs.writeFileSync(f(`msg-${alg}`), msg);
    ok(['keygen', '--alg', alg, '--format', 'raw', '-o', f(`o-${alg}`)]);
    const pk = fs.readFileSync(f(`o-${alg}.pub`)), sk = fs.readFileSync(f(`o-${alg}.key`));
    assert.equal(hex(noble.getPublicKey(sk)), hex(pk));
    const key = [...raw(alg), '--key', f(`o-${alg}.key`)];

    ok(['sign', ...key, '-o', f(`o-${alg}.sig`), f(`msg-${alg}`)]);
    const sig = fs.readFileSync(f(`o-${alg}.sig`));
    assert.equal(sig.length, noble.lengths.signature);
    assert.ok(noble.verify(sig, msg, pk), 'noble accepts our signature');
    assert.ok(!noble.verify(sig, flipBit(msg, 77), pk));

    const sigCtx = Buffer.from(json(['sign', ...key, '--context', 'hanzo test context', f(`msg-${alg}`)]).signature, 'hex');
    assert.ok(noble.verify(sigCtx, msg, pk, { context: ctx }), 'with the context');
    assert.ok(!noble.verify(sigCtx, msg, pk), 'not without it');

    // deterministic signing: the same bytes as noble's
    const det = Buffer.from(json(['sign', ...key, '--deterministic', f(`msg-${alg}`)]).signature, 'hex');
    assert.equal(hex(det), hex(noble.sign(msg, sk, { extraEntropy: false })));
    const detCtx = json(['sign', ...key, '--deterministic', '--context-hex', hex(ctx), f(`msg-${alg}`)]).signature;
    assert.equal(detCtx, hex(noble.sign(msg, sk, { extraEntropy: false, context: ctx })));
  });

  test(`${alg}: noble's keys and signatures with us`, () => {
    fs.writeFileSync(f(`msg-${alg}`), msg);
    const k = noble.keygen();
    fs.writeFileSync(f(`n-${alg}.pub`), k.publicKey);
    fs.writeFileSync(f(`n-${alg}.key`), k.secretKey);
    const pub = [...raw(alg), '--key', f(`n-${alg}.pub`)];
    const fromSk = ok(['pubkey', ...raw(alg), '--key', f(`n-${alg}.key`), '--format', 'hex']).toString().trim();
    assert.equal(fromSk, hex(k.publicKey), 'we recompute noble\'s public key (t = A*s1 + s2) from its secret key');

    fs.writeFileSync(f(`n-${alg}.sig`), noble.sign(msg, k.secretKey));
    assert.equal(hz(['verify', ...pub, '--sig', f(`n-${alg}.sig`), f(`msg-${alg}`)]).status, 0, 'we accept noble\'s signature');
    fs.writeFileSync(f(`n-${alg}.sighex`), hex(noble.sign(msg, k.secretKey, { context: ctx })) + '\n');
    assert.equal(hz(['verify', ...pub, '--sig', f(`n-${alg}.sighex`), '--context', 'hanzo test context', f(`msg-${alg}`)]).status, 0);
    assert.equal(hz(['verify', ...pub, '--sig', f(`n-${alg}.sighex`), f(`msg-${alg}`)]).status, 1, 'context missing');
    for (const bit of [0, 1234, 8 * noble.lengths.signature - 1]) {
      fs.writeFileSync(f(`bad-${alg}.sig`), flipBit(fs.readFileSync(f(`n-${alg}.sig`)), bit));
      const r = hz(['verify', ...pub, '--sig', f(`bad-${alg}.sig`), f(`msg-${alg}`)]);
      assert.equal(r.status, 1, `tampered bit ${bit} rejected`);
    }
    const v = hz(['verify', ...pub, '--sig', f(`n-${alg}.sig`), '--json', '-'], { input: flipBit(msg, 5) });
    assert.equal(v.status, 1);
    assert.equal(JSON.parse(v.stdout.toString()).valid, false);

    // our signature with noble's secret key
    const sig = Buffer.from(json(['sign', ...raw(alg), '--key', f(`n-${alg}.key`), f(`msg-${alg}`)]).signature, 'hex');
    assert.ok(noble.verify(sig, msg, k.publicKey));
  });

  test(`${alg}: armored (and encrypted) key files read independently`, () => {
    fs.writeFileSync(f(`msg-${alg}`), msg);
    const env = { HANZO_KEY_PASSPHRASE: 'horse battery' };
    const encrypt = alg === 'ml-dsa-65' ? ['--encrypt'] : [];
    ok(['keygen', '--alg', alg, ...encrypt, '-o', f(`a-${alg}`)], { env });
    const pub = readKeyFile(fs.readFileSync(f(`a-${alg}.pub`), 'latin1'));
    const sec = readKeyFile(fs.readFileSync(f(`a-${alg}.key`), 'latin1'), 'horse battery');
    assert.equal(hex(noble.getPublicKey(sec.sk)), hex(pub.pk));
    const sig = Buffer.from(json(['sign', '--key', f(`a-${alg}.key`), f(`msg-${alg}`)], { env }).signature, 'hex');
    assert.ok(noble.verify(sig, msg, pub.pk));
    assert.ok(noble.verify(noble.sign(msg, sec.sk), msg, pub.pk));
  });
}

// ---- docs/formats/sealed.md, independently -----------------------------------------------------

const SEAL_INFO = utf8('hanzo-node 2026 sealed v1');

function nonceFor(i, final) {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(i), 3);
  n[11] = final ? 1 : 0;
  return n;
}

function openSealed(data, key) {
  const [noble, , id] = ALGS[key.alg];
  assert.equal(data.subarray(0, 6).toString('latin1'), 'HZSEAL');
  assert.deepEqual([data[6], data[7]], [1, id]);
  const chunk = 2 ** data[8];
  assert.equal(hex(data.subarray(9, 41)), key.keyId);
  const hlen = 41 + noble.lengths.cipherText;
  const ss = noble.decapsulate(data.subarray(41, hlen), key.sk);
  const okm = hkdf(sha256, ss, blake3(data.subarray(0, hlen)), SEAL_INFO, 64);
  assert.equal(hex(blake3(data.subarray(0, hlen), { key: okm.subarray(0, 32) })), hex(data.subarray(hlen, hlen + 32)));
  const parts = [];
  let at = hlen + 32;
  for (let i = 0; ; i++) {
    const n = Math.min(chunk + 16, data.length - at);
    const final = n < chunk + 16;
    parts.push(chacha20poly1305(okm.subarray(32), nonceFor(i, final)).decrypt(data.subarray(at, at + n)));
    at += n;
    if (final) break;
  }
  assert.equal(at, data.length);
  return Buffer.concat(parts);
}

function sealTo(pt, pub, chunkLog) {
  const [noble, , id] = ALGS[pub.alg];
  const { cipherText, sharedSecret } = noble.encapsulate(pub.pk);
  const header = Buffer.concat([Buffer.from('HZSEAL', 'latin1'), Buffer.from([1, id, chunkLog]),
    Buffer.from(pub.keyId, 'hex'), cipherText]);
  const okm = hkdf(sha256, sharedSecret, blake3(header), SEAL_INFO, 64);
  const out = [header, blake3(header, { key: okm.subarray(0, 32) })];
  const chunk = 2 ** chunkLog;
  for (let i = 0, at = 0; ; i++, at += chunk) {
    const piece = pt.subarray(at, at + chunk);
    const final = piece.length < chunk;
    out.push(chacha20poly1305(okm.subarray(32), nonceFor(i, final)).encrypt(piece));
    if (final) break;
  }
  return Buffer.concat(out);
}

for (const alg of ['x-wing', 'ml-kem-1024']) {
  test(`${alg}: sealed files, ours opened by noble's primitives and the reverse`, () => {
    ok(['keygen', '--alg', alg, '-o', f(`s-${alg}`)]);
    const pub = readKeyFile(fs.readFileSync(f(`s-${alg}.pub`), 'latin1'));
    const sec = readKeyFile(fs.readFileSync(f(`s-${alg}.key`), 'latin1'));
    for (const size of [0, 1, 1024, 5000]) {
      const pt = randomBytes(size);
      fs.writeFileSync(f('pt'), pt);
      ok(['seal', '--key', f(`s-${alg}.pub`), '--chunk-size', '1k', '-o', f('sealed'), f('pt')]);
      assert.equal(hex(openSealed(fs.readFileSync(f('sealed')), sec)), hex(pt), `ours, ${size} bytes`);

      fs.writeFileSync(f('theirs'), sealTo(pt, pub, 10));
      assert.equal(hex(ok(['open', '--key', f(`s-${alg}.key`), f('theirs')])), hex(pt), `theirs, ${size} bytes`);
    }
    // and one with the default 64 KiB chunks, more than one of them
    const big = randomBytes(200000);
    fs.writeFileSync(f('theirs'), sealTo(big, pub, 16));
    assert.equal(hex(ok(['open', '--key', f(`s-${alg}.key`), f('theirs')])), hex(big));
    ok(['seal', '--key', f(`s-${alg}.pub`), '-o', f('sealed'), '-'], { input: big });
    assert.equal(hex(openSealed(fs.readFileSync(f('sealed')), sec)), hex(big));
  });
}
