'use strict'
// usage: node add_one.js DIR VALUE
// Opens (or creates) an on-disk LevelDB hyperlog at DIR and adds ONE node with
// no links. Last stdout line: {"key","seconds","seconds_open","seconds_total"}
const level = require('level')
const hyperlog = require('hyperlog')
const c = require('./common')

const tStart = c.now()
const DIR = process.argv[2]
const VALUE = process.argv[3]
if (!DIR || VALUE === undefined) c.fail('usage: node add_one.js DIR VALUE')
c.hardTimeout(c.envSeconds('HF_JS_TIMEOUT', 120))

const db = level(DIR)
const log = hyperlog(db)
log.ready(function () {
  const tOpen = c.secondsSince(tStart)
  const t0 = c.now()
  log.add(null, VALUE, function (err, node) {
    if (err) return c.fail(err)
    const seconds = c.secondsSince(t0)
    db.close(function () {
      c.finish({
        key: node.key,
        change: node.change,
        seconds: seconds,
        seconds_open: tOpen,
        seconds_total: c.secondsSince(tStart)
      })
    })
  })
})
