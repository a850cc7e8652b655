// Builds kernels/argon2/argon2id.wasm from source: this script generates the WebAssembly text of
// the Argon2 memory-filling kernel (RFC 9106 §3.2–§3.6, version 0x13, type Argon2id) and
// assembles it with wabt from the npm registry. No binary is checked in; `npm run build` (run
// by `npm install` through `prepare`) recreates it.
//
// What runs in WASM: the BlaMka compression G with 128-bit SIMD and the whole fill loop
// (reference indexing for the data-independent and data-dependent halves of Argon2id, address
// block generation). What runs in JS (kernels/argon2/wasm.ts): H0 and the variable-length hash
// H' (BLAKE2b), a few hundred bytes per hash.
//
// Layout of linear memory (byte offsets):
//   0      zero block        (all zero, for the address generator G(0, ·))
//   1024   input block       (address generator input: pass, lane, slice, m', t, type, counter)
//   2048   address block     (128 pseudo-random u64 of the data-independent half)
//   3072   tmp block R       (X ⊕ Y, plus the overwritten block in passes > 0)
//   4096   header            (parameters written by JS, see HDR_* below)
//   8192   the m' blocks of the Argon2 memory, lane-major
//
// Design notes, for speed:
// - A 1 KiB block is 64 v128 registers. The row and column rounds of P work in place in the
//   output block (it is in L1), and the column rounds write the final value out = Q ⊕ R
//   directly, so each block is read and written a minimal number of times.
// - fBlaMka(x, y) = x + y + 2·lo32(x)·lo32(y): i64x2.extmul_low_i32x4_u of the even 32-bit lanes.
// - Rotations: 32 is an i32 lane swap, 24 and 16 are byte shuffles, 63 is (x + x) | (x >> 63).
// - Data-dependent half: as soon as word 0 of the new block is final (after the first column
//   round) the index of the next reference block is computed and its 16 cache lines are
//   touched, so the random 1 KiB read of the next block overlaps the remaining 7 column rounds
//   instead of stalling the next compression.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export const ZERO = 0;
export const INPUT = 1024;
export const ADDR = 2048;
export const TMP = 3072;
export const HDR = 4096;
export const BASE = 8192;

// ---- small WAT helpers -------------------------------------------------------------------
const lanesOf = (arr) => arr.join(' ');
const bytes = (fn) => lanesOf(Array.from({ length: 16 }, (_, i) => fn(i)));
// i8x16.shuffle immediates
const SH_ROT32 = bytes((i) => (i & 8) + ((i + 4) & 7));
const SH_ROT24 = bytes((i) => (i & 8) + ((i + 3) & 7));
const SH_ROT16 = bytes((i) => (i & 8) + ((i + 2) & 7));
const SH_EVEN32 = '0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11'; // [x0, x2, x0, x2] as i32 lanes
const SH_ALIGN8 = '8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23'; // (a.hi, b.lo)

const g = (n) => `(local.get $${n})`;
const set = (n, e) => `(local.set $${n} ${e})`;
const xor = (a, b) => `(v128.xor ${a} ${b})`;

// low 32-bit halves of both words of x and y packed into one register: [x.w0, x.w1, y.w0, y.w1]
const SH_LO_PAIR = '0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27';
/** fBlaMka on two register pairs at once: (x0, y0) and (x1, y1). One shufps per operand pair. */
function fBlaMkaPair(x0, y0, x1, y1, sfx = '') {
  const tx = `(i8x16.shuffle ${SH_LO_PAIR} ${g(x0)} ${g(x1)})`;
  const ty = `(i8x16.shuffle ${SH_LO_PAIR} ${g(y0)} ${g(y1)})`;
  return [
    set('t0' + sfx, tx),
    set('t1' + sfx, ty),
    set(x0, `(i64x2.add (i64x2.add ${g(x0)} ${g(y0)}) (i64x2.shl (i64x2.extmul_low_i32x4_u ${g('t0' + sfx)} ${g('t1' + sfx)}) (i32.const 1)))`),
    set(x1, `(i64x2.add (i64x2.add ${g(x1)} ${g(y1)}) (i64x2.shl (i64x2.extmul_high_i32x4_u ${g('t0' + sfx)} ${g('t1' + sfx)}) (i32.const 1)))`),
  ];
}
const rot = (sh, v) => `(i8x16.shuffle ${sh} ${v} ${v})`;
// byte rotations through i8x16.swizzle with a constant mask: V8 emits one pshufb (shuffle
// patterns of 16-bit lanes become pshuflw+pshufhw, two dependent steps on the critical path)
const swz = (sh, v) => `(i8x16.swizzle ${v} (v128.const i8x16 ${sh}))`;
const rotShift = (n, r) => `(v128.or (i64x2.shr_u ${g(n)} (i32.const ${r})) (i64x2.shl ${g(n)} (i32.const ${64 - r})))`;
const rot63 = (n) => `(v128.or (i64x2.add ${g(n)} ${g(n)}) (i64x2.shr_u ${g(n)} (i32.const 63)))`;

function gHalf(A, B, C, D, r1, r2, sfx) {
  // one "G1" or "G2" step on both register pairs
  const out = [];
  out.push(...fBlaMkaPair(A[0], B[0], A[1], B[1], sfx));
  for (const k of [0, 1]) out.push(set(D[k], (r1 === SH_ROT32 ? rot : swz)(r1, xor(g(D[k]), g(A[k])))));
  out.push(...fBlaMkaPair(C[0], D[0], C[1], D[1], sfx));
  for (const k of [0, 1]) {
    out.push(set(B[k], xor(g(B[k]), g(C[k]))));
    out.push(set(B[k], r2 === 63 ? rot63(B[k]) : swz(SH_ROT24, g(B[k]))));
  }
  return out;
}

/** The permutation P on the 8 registers a0 a1 b0 b1 c0 c1 d0 d1 (RFC 9106 §3.6). */
function permutation(sfx = '') {
  const n = (r) => r + sfx;
  const A = [n('a0'), n('a1')], B = [n('b0'), n('b1')], C = [n('c0'), n('c1')], D = [n('d0'), n('d1')];
  const t = n('t0');
  const out = [];
  out.push(...gHalf(A, B, C, D, SH_ROT32, SH_ROT24, sfx));
  out.push(...gHalf(A, B, C, D, SH_ROT16, 63, sfx));
  // diagonalize: B' = (b0.hi b1.lo, b1.hi b0.lo); C' = (c1, c0); D' = (d1.hi d0.lo, d0.hi d1.lo)
  out.push(set(t, `(i8x16.shuffle ${SH_ALIGN8} ${g(B[0])} ${g(B[1])})`));
  out.push(set(B[1], `(i8x16.shuffle ${SH_ALIGN8} ${g(B[1])} ${g(B[0])})`));
  out.push(set(B[0], g(t)));
  out.push(set(t, `(i8x16.shuffle ${SH_ALIGN8} ${g(D[1])} ${g(D[0])})`));
  out.push(set(D[1], `(i8x16.shuffle ${SH_ALIGN8} ${g(D[0])} ${g(D[1])})`));
  out.push(set(D[0], g(t)));
  const Cd = [C[1], C[0]];
  out.push(...gHalf(A, B, Cd, D, SH_ROT32, SH_ROT24, sfx));
  out.push(...gHalf(A, B, Cd, D, SH_ROT16, 63, sfx));
  // undiagonalize
  out.push(set(t, `(i8x16.shuffle ${SH_ALIGN8} ${g(B[1])} ${g(B[0])})`));
  out.push(set(B[1], `(i8x16.shuffle ${SH_ALIGN8} ${g(B[0])} ${g(B[1])})`));
  out.push(set(B[0], g(t)));
  out.push(set(t, `(i8x16.shuffle ${SH_ALIGN8} ${g(D[0])} ${g(D[1])})`));
  out.push(set(D[1], `(i8x16.shuffle ${SH_ALIGN8} ${g(D[1])} ${g(D[0])})`));
  out.push(set(D[0], g(t)));
  return out;
}

/** Two independent permutations, statement by statement, so the core sees four dependency chains. */
function permutation2() {
  const a = permutation(''), b = permutation('_');
  const out = [];
  for (let i = 0; i < a.length; i++) out.push(a[i], b[i]);
  return out;
}

const REGS = ['a0', 'a1', 'b0', 'b1', 'c0', 'c1', 'd0', 'd1'];
const load = (ptr, off) => `(v128.load offset=${off} ${g(ptr)})`;

/**
 * compress(x, y, out, withXor): out = G(x, y) [⊕ out]. Byte addresses. Returns word 0 of the
 * new block as soon as it is final (after the first column round), through $w0.
 * When $pf is non-zero the caller asked for the next reference block to be prefetched: the
 * function calls $next_ref(w0) to get its address and touches its 16 cache lines.
 */
function compressFunc() {
  const L = [];
  L.push('(func $compress (param $x i32) (param $y i32) (param $out i32) (param $withXor i32) (param $pf i32) (result i64)');
  L.push('  (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128) (local $c0 v128) (local $c1 v128) (local $d0 v128) (local $d1 v128) (local $t0 v128) (local $t1 v128)');
  L.push('  (local $a0_ v128) (local $a1_ v128) (local $b0_ v128) (local $b1_ v128) (local $c0_ v128) (local $c1_ v128) (local $d0_ v128) (local $d1_ v128) (local $t0_ v128) (local $t1_ v128)');
  L.push('  (local $p i32) (local $i i32) (local $w0 i64) (local $r i32) (local $sink i64)');
  L.push('  (block $rounds');
  // rows: registers 8r .. 8r+7, consecutive. The input R = x ⊕ y is formed here, and the
  // final XOR term (R, or R ⊕ the overwritten block in passes > 0) is kept in tmp.
  const perm = permutation2().map((s) => '    ' + s);
  const both = (fn) => { REGS.forEach((r, j) => fn(r, j * 16)); REGS.forEach((r, j) => fn(r + '_', 128 + j * 16)); };
  for (const withXor of [true, false]) {
    L.push(`  (if ${withXor ? '' : '(i32.eqz '}(local.get $withXor)${withXor ? '' : ')'} (then`);
    L.push('  (local.set $p (i32.const 0)) (local.set $i (i32.const 0))');
    L.push('  (loop $rows');
    both((r, o) => {
      L.push(`    ${set(r, xor(`(v128.load offset=${o} (i32.add (local.get $x) (local.get $p)))`, `(v128.load offset=${o} (i32.add (local.get $y) (local.get $p)))`))}`);
      const keep = withXor ? xor(g(r), `(v128.load offset=${o} (i32.add (local.get $out) (local.get $p)))`) : g(r);
      L.push(`    (v128.store offset=${TMP + o} (local.get $p) ${keep})`);
    });
    L.push(...perm);
    both((r, o) => L.push(`    (v128.store offset=${o} (i32.add (local.get $out) (local.get $p)) ${g(r)})`));
    L.push('    (local.set $p (i32.add (local.get $p) (i32.const 256)))');
    L.push('    (local.set $i (i32.add (local.get $i) (i32.const 2)))');
    L.push('    (br_if $rows (i32.lt_u (local.get $i) (i32.const 8))))');
    L.push('  (br $rounds)))');
  }
  L.push('  )');
  // columns: registers i, i+8, ..., i+56; write out = Q ⊕ R
  L.push(`  (local.set $p (local.get $out)) (local.set $i (i32.const 0))`);
  L.push('  (loop $cols');
  const bothC = (fn) => { REGS.forEach((r, j) => fn(r, j * 128)); REGS.forEach((r, j) => fn(r + '_', 16 + j * 128)); };
  bothC((r, o) => L.push(`    ${set(r, load('p', o))}`));
  L.push(...perm);
  bothC((r, o) =>
    L.push(`    (v128.store offset=${o} ${g('p')} ${xor(g(r), `(v128.load offset=${TMP + o} (i32.sub (local.get $p) (local.get $out)))`)})`),
  );
  // after the first column round, word 0 of the output is final
  L.push('    (if (i32.eqz (local.get $i)) (then');
  L.push('      (local.set $w0 (i64.load (local.get $out)))');
  L.push('      (if (local.get $pf) (then');
  L.push('        (local.set $r (call $next_ref (local.get $w0)))');
  for (let c = 0; c < 16; c++) L.push(`        (local.set $sink (i64.xor (local.get $sink) (i64.load offset=${c * 64} (local.get $r))))`);
  L.push('      ))))');
  L.push('    (local.set $p (i32.add (local.get $p) (i32.const 32)))');
  L.push('    (local.set $i (i32.add (local.get $i) (i32.const 2)))');
  L.push('    (br_if $cols (i32.lt_u (local.get $i) (i32.const 8))))');
  // keep the prefetch loads alive: fold them into a global no one reads for correctness
  L.push('  (global.set $sink (i64.xor (global.get $sink) (local.get $sink)))');
  L.push('  (local.get $w0))');
  return L.join('\n');
}

// Header words (u32 at HDR + 4k), written by the fill driver:
const H = { lanes: 0, laneLen: 4, segLen: 8, pass: 12, lane: 16, slice: 20, index: 24, passes: 28, memBlocks: 32 };
const hdr = (f) => `(i32.load offset=${HDR + H[f]} (i32.const 0))`;
const hdrSet = (f, e) => `(i32.store offset=${HDR + H[f]} (i32.const 0) ${e})`;

/**
 * next_ref(pseudoRand) for the block AFTER the current one in the data-dependent half of a
 * segment (used only for prefetch): the header holds the position (pass, lane, slice, index of
 * the next block). Returns the byte address of the block it will reference.
 */
function refFuncs() {
  return `
(func $ref_index (param $rand i64) (param $pass i32) (param $lane i32) (param $slice i32) (param $index i32) (result i32)
  (local $refLane i32) (local $area i32) (local $same i32) (local $x i64) (local $rel i32) (local $start i32)
  (local $segLen i32) (local $laneLen i32)
  (local.set $segLen ${hdr('segLen')}) (local.set $laneLen ${hdr('laneLen')})
  (local.set $refLane (i32.rem_u (i32.wrap_i64 (i64.shr_u (local.get $rand) (i64.const 32))) ${hdr('lanes')}))
  (if (i32.and (i32.eqz (local.get $pass)) (i32.eqz (local.get $slice))) (then (local.set $refLane (local.get $lane))))
  (local.set $same (i32.eq (local.get $refLane) (local.get $lane)))
  (if (i32.eqz (local.get $pass))
    (then (local.set $area (i32.mul (local.get $slice) (local.get $segLen))))
    (else (local.set $area (i32.sub (local.get $laneLen) (local.get $segLen)))))
  (if (local.get $same)
    (then (local.set $area (i32.add (local.get $area) (i32.sub (local.get $index) (i32.const 1)))))
    (else (if (i32.eqz (local.get $index)) (then (local.set $area (i32.sub (local.get $area) (i32.const 1)))))))
  (local.set $x (i64.and (local.get $rand) (i64.const 0xffffffff)))
  (local.set $x (i64.shr_u (i64.mul (local.get $x) (local.get $x)) (i64.const 32)))
  (local.set $x (i64.shr_u (i64.mul (i64.extend_i32_u (local.get $area)) (local.get $x)) (i64.const 32)))
  (local.set $rel (i32.sub (i32.sub (local.get $area) (i32.const 1)) (i32.wrap_i64 (local.get $x))))
  (local.set $start (i32.const 0))
  (if (i32.and (i32.ne (local.get $pass) (i32.const 0)) (i32.ne (local.get $slice) (i32.const 3)))
    (then (local.set $start (i32.mul (i32.add (local.get $slice) (i32.const 1)) (local.get $segLen)))))
  (i32.add (i32.const ${BASE})
    (i32.shl (i32.add (i32.mul (local.get $refLane) (local.get $laneLen))
                      (i32.rem_u (i32.add (local.get $start) (local.get $rel)) (local.get $laneLen)))
             (i32.const 10))))

(func $next_ref (param $w0 i64) (result i32)
  (call $ref_index (local.get $w0) ${hdr('pass')} ${hdr('lane')} ${hdr('slice')} (i32.add ${hdr('index')} (i32.const 1))))
`;
}

function fillFuncs() {
  return `
(func $next_addresses
  (i64.store offset=${INPUT + 48} (i32.const 0) (i64.add (i64.load offset=${INPUT + 48} (i32.const 0)) (i64.const 1)))
  (drop (call $compress (i32.const ${ZERO}) (i32.const ${INPUT}) (i32.const ${ADDR}) (i32.const 0) (i32.const 0)))
  (drop (call $compress (i32.const ${ZERO}) (i32.const ${ADDR}) (i32.const ${ADDR}) (i32.const 0) (i32.const 0))))

;; Fills one segment (RFC 9106 §3.4). Header fields lanes, laneLen, segLen, passes, memBlocks set.
(func $fill_segment (param $pass i32) (param $lane i32) (param $slice i32)
  (local $dataInd i32) (local $i i32) (local $segLen i32) (local $laneLen i32) (local $curr i32) (local $prev i32)
  (local $rand i64) (local $ref i32) (local $withXor i32) (local $pf i32) (local $k i32) (local $last i32)
  (local.set $segLen ${hdr('segLen')}) (local.set $laneLen ${hdr('laneLen')})
  (local.set $dataInd (i32.and (i32.eqz (local.get $pass)) (i32.lt_u (local.get $slice) (i32.const 2))))
  (local.set $withXor (i32.ne (local.get $pass) (i32.const 0)))
  ${hdrSet('pass', '(local.get $pass)')} ${hdrSet('lane', '(local.get $lane)')} ${hdrSet('slice', '(local.get $slice)')}
  (if (local.get $dataInd) (then
    (local.set $k (i32.const 0))
    (loop $z (i64.store offset=${INPUT} (local.get $k) (i64.const 0))
      (local.set $k (i32.add (local.get $k) (i32.const 8)))
      (br_if $z (i32.lt_u (local.get $k) (i32.const 1024))))
    (i64.store offset=${INPUT} (i32.const 0) (i64.extend_i32_u (local.get $pass)))
    (i64.store offset=${INPUT + 8} (i32.const 0) (i64.extend_i32_u (local.get $lane)))
    (i64.store offset=${INPUT + 16} (i32.const 0) (i64.extend_i32_u (local.get $slice)))
    (i64.store offset=${INPUT + 24} (i32.const 0) (i64.extend_i32_u ${hdr('memBlocks')}))
    (i64.store offset=${INPUT + 32} (i32.const 0) (i64.extend_i32_u ${hdr('passes')}))
    (i64.store offset=${INPUT + 40} (i32.const 0) (i64.const 2))))
  (local.set $i (i32.const 0))
  (if (i32.and (i32.eqz (local.get $pass)) (i32.eqz (local.get $slice))) (then
    (local.set $i (i32.const 2))
    (if (local.get $dataInd) (then (call $next_addresses)))))
  (local.set $curr (i32.add (i32.mul (local.get $lane) (local.get $laneLen)) (i32.add (i32.mul (local.get $slice) (local.get $segLen)) (local.get $i))))
  (if (i32.ge_u (local.get $i) (local.get $segLen)) (then (return)))
  ;; pseudo-random value of the first block of the data-dependent part, read from memory
  (loop $blocks
    (local.set $prev (i32.sub (local.get $curr) (i32.const 1)))
    (if (i32.eqz (i32.rem_u (local.get $curr) (local.get $laneLen))) (then (local.set $prev (i32.add (local.get $curr) (i32.sub (local.get $laneLen) (i32.const 1))))))
    (if (local.get $dataInd)
      (then
        (if (i32.eqz (i32.and (local.get $i) (i32.const 127))) (then (call $next_addresses)))
        (local.set $rand (i64.load offset=${ADDR} (i32.shl (i32.and (local.get $i) (i32.const 127)) (i32.const 3)))))
      (else (local.set $rand (i64.load offset=${BASE} (i32.shl (local.get $prev) (i32.const 10))))))
    (local.set $ref (call $ref_index (local.get $rand) (local.get $pass) (local.get $lane) (local.get $slice) (local.get $i)))
    ;; prefetch the next block's reference only in the data-dependent part, within this segment
    (local.set $last (i32.eq (i32.add (local.get $i) (i32.const 1)) (local.get $segLen)))
    (local.set $pf (i32.and (i32.eqz (local.get $dataInd)) (i32.eqz (local.get $last))))
    ${hdrSet('index', '(local.get $i)')}
    (drop (call $compress
      (i32.add (i32.const ${BASE}) (i32.shl (local.get $prev) (i32.const 10)))
      (local.get $ref)
      (i32.add (i32.const ${BASE}) (i32.shl (local.get $curr) (i32.const 10)))
      (local.get $withXor) (local.get $pf)))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (local.set $curr (i32.add (local.get $curr) (i32.const 1)))
    (br_if $blocks (i32.lt_u (local.get $i) (local.get $segLen)))))

;; Fills the whole memory: passes × slices × lanes (lanes run one after another).
(func (export "fill") (param $lanes i32) (param $segLen i32) (param $passes i32)
  (local $pass i32) (local $slice i32) (local $lane i32)
  ${hdrSet('lanes', '(local.get $lanes)')}
  ${hdrSet('segLen', '(local.get $segLen)')}
  ${hdrSet('laneLen', '(i32.shl (local.get $segLen) (i32.const 2))')}
  ${hdrSet('passes', '(local.get $passes)')}
  ${hdrSet('memBlocks', '(i32.mul (i32.shl (local.get $segLen) (i32.const 2)) (local.get $lanes))')}
  (loop $passL
    (local.set $slice (i32.const 0))
    (loop $sliceL
      (local.set $lane (i32.const 0))
      (loop $laneL
        (call $fill_segment (local.get $pass) (local.get $lane) (local.get $slice))
        (local.set $lane (i32.add (local.get $lane) (i32.const 1)))
        (br_if $laneL (i32.lt_u (local.get $lane) (local.get $lanes))))
      (local.set $slice (i32.add (local.get $slice) (i32.const 1)))
      (br_if $sliceL (i32.lt_u (local.get $slice) (i32.const 4))))
    (local.set $pass (i32.add (local.get $pass) (i32.const 1)))
    (br_if $passL (i32.lt_u (local.get $pass) (local.get $passes)))))

;; For tests: one compression of two blocks at byte addresses, out = G(x, y) [⊕ out].
(func (export "compress") (param $x i32) (param $y i32) (param $out i32) (param $withXor i32)
  (drop (call $compress (local.get $x) (local.get $y) (local.get $out) (local.get $withXor) (i32.const 0))))
`;
}

export function generateWat() {
  return `(module
(memory (export "memory") 1)
(global $sink (mut i64) (i64.const 0))
${compressFunc()}
${refFuncs()}
${fillFuncs()}
)`;
}

export async function build() {
  const wabt = await require('wabt')();
  const wat = generateWat();
  const mod = wabt.parseWat('argon2id.wat', wat, { simd: true });
  mod.validate();
  const { buffer } = mod.toBinary({ log: false });
  mod.destroy();
  return { wat, wasm: buffer };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { wat, wasm } = await build();
  mkdirSync(here, { recursive: true });
  writeFileSync(join(here, 'argon2id.wasm'), wasm);
  if (process.env.ECD_WRITE_WAT) writeFileSync(join(here, 'argon2id.wat'), wat);
  process.stdout.write(`argon2id.wasm: ${wasm.length} bytes\n`);
}
