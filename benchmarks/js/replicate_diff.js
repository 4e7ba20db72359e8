'use strict'
// usage: node replicate_diff.js N K [TIMEOUT_S]
// Two memdb hyperlogs share the same N-node linear-chain history (A is built,
// then fully replicated to B). Each side then adds K new nodes of its own, a
// chain starting at the shared head. A second replication is measured: bytes
// each way, bytes per missing node = total / (2K), time, both counts after.
// Gives up after TIMEOUT_S per replication (default 600, env HF_JS_REPL_TIMEOUT).
const memdb = require('memdb')
const hyperlog = require('hyperlog')
const c = require('./common')

const N = parseInt(process.argv[2], 10)
const K = parseInt(process.argv[3], 10)
const T = parseFloat(process.argv[4] || '0') || c.envSeconds('HF_JS_REPL_TIMEOUT', 600)
if (!(N >= 0) || !(K > 0)) c.fail('usage: node replicate_diff.js N K [TIMEOUT_S]')

let stage = 'fill'
let prog = null
const out = { nodes: N, k: K }
c.hardTimeout(T * 3 + c.envSeconds('HF_JS_FILL_TIMEOUT', 900), () =>
  Object.assign({}, out, { stage: stage, finished: false }, prog ? prog.progress() : {}))

const a = hyperlog(memdb(), { valueEncoding: 'json' })
const b = hyperlog(memdb(), { valueEncoding: 'json' })

function step (err) { if (err) c.fail(err, Object.assign({}, out, { stage: stage })) }

const tFill = c.now()
c.fillChain(a, N, 'hello', null, function (err, head) {
  if (err) return step(err)
  out.fill_seconds = c.secondsSince(tFill)
  stage = 'initial_replicate'
  prog = c.replicate(a, b, T, function (err, r0) {
    if (err) return step(err)
    out.initial = { seconds: r0.seconds, bytes_a_to_b: r0.bytes_a_to_b, bytes_b_to_a: r0.bytes_b_to_a, finished: r0.finished }
    if (!r0.finished) return c.finish(Object.assign(out, { stage: stage, finished: false }))
    stage = 'diverge'
    c.fillChain(a, K, 'from a', head, function (err) {
      if (err) return step(err)
      c.fillChain(b, K, 'from b', head, function (err) {
        if (err) return step(err)
        c.countNodes(a, function (err, aBefore) {
          if (err) return step(err)
          c.countNodes(b, function (err, bBefore) {
            if (err) return step(err)
            stage = 'diff_replicate'
            prog = c.replicate(a, b, T, function (err, r) {
              if (err) return step(err)
              stage = 'count'
              c.countNodes(a, function (err, aAfter) {
                if (err) return step(err)
                c.countNodes(b, function (err, bAfter) {
                  if (err) return step(err)
                  const total = r.bytes_a_to_b + r.bytes_b_to_a
                  c.finish(Object.assign(out, {
                    seconds: r.seconds,
                    bytes_a_to_b: r.bytes_a_to_b,
                    bytes_b_to_a: r.bytes_b_to_a,
                    bytes_total: total,
                    bytes_per_missing_node: total / (2 * K),
                    a_count_before: aBefore,
                    b_count_before: bBefore,
                    a_count_after: aAfter,
                    b_count_after: bAfter,
                    expected_count_after: N + 2 * K,
                    finished: r.finished,
                    errors: r.errors,
                    shape: 'linear chain + two K-node branches',
                    store: 'memdb@1.3.1'
                  }))
                })
              })
            })
          })
        })
      })
    })
  })
})
