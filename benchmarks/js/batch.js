'use strict'
// usage: node batch.js N DIR [CHUNK]
// Opens a fresh on-disk LevelDB hyperlog at DIR and inserts N unlinked JSON
// values with log.batch(). By default all N go in ONE batch call; pass CHUNK
// (or env HF_JS_BATCH_CHUNK) to split into batches of CHUNK docs.
// Last stdout line: {"nodes","seconds","nodes_per_s","chunk",...}
const fs = require('fs')
const level = require('level')
const hyperlog = require('hyperlog')
const c = require('./common')

const N = parseInt(process.argv[2], 10)
const DIR = process.argv[3]
const CHUNK = parseInt(process.argv[4] || process.env.HF_JS_BATCH_CHUNK || '0', 10) || N
if (!(N > 0) || !DIR) c.fail('usage: node batch.js N DIR [CHUNK]')
if (fs.existsSync(DIR) && fs.readdirSync(DIR).length > 0) c.fail('DIR must be empty or absent: ' + DIR)

let inserted = 0
let rejected = 0
c.hardTimeout(c.envSeconds('HF_JS_TIMEOUT', 900), () => ({ nodes_inserted_so_far: inserted, n: N, chunk: CHUNK }))

const db = level(DIR)
const log = hyperlog(db, { valueEncoding: 'json' })
log.on('reject', () => { rejected++ })

const docs = []
for (let i = 0; i < N; i++) docs.push({ links: [], value: { i: i, msg: 'hello ' + i } })

log.ready(function () {
  const t0 = c.now()
  let off = 0
  let returned = 0
  function next () {
    if (off >= N) return done()
    const part = docs.slice(off, off + CHUNK)
    off += part.length
    log.batch(part, function (err, nodes) {
      if (err) return c.fail(err, { n: N, chunk: CHUNK, nodes_inserted_so_far: inserted })
      returned += nodes ? nodes.length : 0
      inserted += part.length
      next()
    })
  }
  function done () {
    const seconds = c.secondsSince(t0)
    c.countNodes(log, function (err, stored) {
      if (err) return c.fail(err)
      db.close(function () {
        c.finish({
          n: N,
          nodes: stored,
          returned_by_batch: returned,
          rejected: rejected,
          dropped: N - stored,
          chunk: CHUNK,
          batches: Math.ceil(N / CHUNK),
          seconds: seconds,
          nodes_per_s: stored / seconds,
          store: 'leveldb (level@6 / leveldown@5)'
        })
      })
    })
  }
  next()
})
