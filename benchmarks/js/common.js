'use strict'
// Shared helpers for the hyperlog baseline scripts. Each script prints exactly
// one JSON object as the LAST line of stdout and exits on its own.

const { PassThrough } = require('stream')

function now () { return process.hrtime.bigint() }
function secondsSince (t0) { return Number(process.hrtime.bigint() - t0) / 1e9 }

let printed = false
function finish (obj, code) {
  if (!printed) {
    printed = true
    process.stdout.write(JSON.stringify(obj) + '\n')
  }
  // give stdout a tick to flush when it is a pipe
  setImmediate(() => process.exit(code || 0))
}

// Hard timeout: whatever happens, the process ends after `seconds`.
// `partial` is called to build the JSON reported in that case.
function hardTimeout (seconds, partial) {
  const t = setTimeout(() => {
    let obj = {}
    try { obj = partial ? partial() : {} } catch (e) { obj = { partial_error: String(e) } }
    obj.error = obj.error || ('hard timeout after ' + seconds + ' s')
    obj.timed_out = true
    finish(obj, 3)
  }, seconds * 1000)
  t.unref()
  return t
}

function fail (err, extra) {
  const obj = Object.assign({}, extra || {}, { error: String((err && err.stack) || err) })
  finish(obj, 1)
}

function envSeconds (name, dflt) {
  const v = process.env[name]
  if (v === undefined || v === '') return dflt
  const n = Number(v)
  return Number.isFinite(n) && n > 0 ? n : dflt
}

// Count nodes stored in a hyperlog via its (non-live) changes feed.
function countNodes (log, cb) {
  let n = 0
  log.createReadStream({ live: false })
    .on('data', () => { n++ })
    .on('error', cb)
    .on('end', () => cb(null, n))
}

// PassThrough that counts bytes flowing through it.
function counter () {
  const s = new PassThrough()
  s.bytes = 0
  s.chunks = 0
  s.on('data', (c) => { s.bytes += c.length; s.chunks++ })
  return s
}

// Linear chain: node i links node i-1. Values are small JSON objects.
function fillChain (log, n, prefix, prevKey, cb) {
  let i = 0
  let prev = prevKey || null
  function next () {
    if (i >= n) return cb(null, prev)
    const value = { i: i, msg: prefix + ' ' + i }
    log.add(prev ? [prev] : null, value, function (err, node) {
      if (err) return cb(err)
      prev = node.key
      i++
      // avoid deep synchronous recursion with in-memory stores
      if (i % 1000 === 0) setImmediate(next)
      else next()
    })
  }
  next()
}

// Pipe r1 <-> r2 through byte counters; call cb once both sides ended,
// or after `seconds` with finished=false.
function replicate (a, b, seconds, cb) {
  const r1 = a.replicate()
  const r2 = b.replicate()
  const ab = counter()
  const ba = counter()
  let ended = 0
  let done = false
  const errors = []
  const t0 = now()
  function complete (finished) {
    if (done) return
    done = true
    clearTimeout(timer)
    cb(null, {
      finished: finished,
      seconds: secondsSince(t0),
      bytes_a_to_b: ab.bytes,
      bytes_b_to_a: ba.bytes,
      chunks_a_to_b: ab.chunks,
      chunks_b_to_a: ba.chunks,
      errors: errors
    })
  }
  const timer = setTimeout(() => complete(false), seconds * 1000)
  function onEnd () { if (++ended === 2) complete(true) }
  r1.on('end', onEnd)
  r2.on('end', onEnd)
  r1.on('error', (e) => { errors.push('a: ' + String(e)); complete(false) })
  r2.on('error', (e) => { errors.push('b: ' + String(e)); complete(false) })
  r1.pipe(ab).pipe(r2).pipe(ba).pipe(r1)
  return { progress: () => ({ bytes_a_to_b: ab.bytes, bytes_b_to_a: ba.bytes, seconds: secondsSince(t0) }) }
}

module.exports = {
  now, secondsSince, finish, hardTimeout, fail, envSeconds,
  countNodes, counter, fillChain, replicate
}
