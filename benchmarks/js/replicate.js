'use strict'
// usage: node replicate.js N [TIMEOUT_S]
// Two hyperlogs over memdb in one process. A gets a linear chain of N nodes
// (node i links node i-1); then A and B replicate with
// r1 = a.replicate(); r2 = b.replicate(); r1 -> r2 -> r1, counting bytes each
// way. Gives up after TIMEOUT_S (default 600, env HF_JS_REPL_TIMEOUT) and
// reports finished=false.
// Last stdout line: {"nodes","seconds","bytes_a_to_b","bytes_b_to_a","b_count_after","finished",...}
const memdb = require('memdb')
const hyperlog = require('hyperlog')
const c = require('./common')

const N = parseInt(process.argv[2], 10)
const T = parseFloat(process.argv[3] || '0') || c.envSeconds('HF_JS_REPL_TIMEOUT', 600)
if (!(N > 0)) c.fail('usage: node replicate.js N [TIMEOUT_S]')

let stage = 'fill'
let prog = null
let fillSeconds = null
c.hardTimeout(T * 2 + c.envSeconds('HF_JS_FILL_TIMEOUT', 900), () =>
  Object.assign({ nodes: N, stage: stage, finished: false, fill_seconds: fillSeconds }, prog ? prog.progress() : {}))

const a = hyperlog(memdb(), { valueEncoding: 'json' })
const b = hyperlog(memdb(), { valueEncoding: 'json' })

const tFill = c.now()
c.fillChain(a, N, 'hello', null, function (err) {
  if (err) return c.fail(err, { stage: stage })
  fillSeconds = c.secondsSince(tFill)
  stage = 'replicate'
  prog = c.replicate(a, b, T, function (err, r) {
    if (err) return c.fail(err, { stage: stage })
    stage = 'count'
    c.countNodes(a, function (err, aCount) {
      if (err) return c.fail(err)
      c.countNodes(b, function (err, bCount) {
        if (err) return c.fail(err)
        c.finish({
          nodes: N,
          seconds: r.seconds,
          bytes_a_to_b: r.bytes_a_to_b,
          bytes_b_to_a: r.bytes_b_to_a,
          bytes_per_node: (r.bytes_a_to_b + r.bytes_b_to_a) / N,
          a_count_after: aCount,
          b_count_after: bCount,
          finished: r.finished,
          errors: r.errors,
          fill_seconds: fillSeconds,
          shape: 'linear chain',
          store: 'memdb@1.3.1'
        })
      })
    })
  })
})
