'use strict'
// Shared helpers for the hyperlog 4.12.1 peer scripts in this folder: argument
// parsing, opening a LevelDB-backed hyperlog, closing it, node values and
// one-line errors. Not a script of its own.

const level = require('level')
const hyperlog = require('hyperlog')

// Parse process.argv.slice(2) against a spec {flagName: 'bool'|'int'|'string'}.
// Returns {pos: [positional...], opts: {flagName: value}, rest: [args after --]}.
// Unknown flags, missing values and non-integers are usage errors (exit 2).
function parseArgs (usage, spec, argv) {
  argv = argv || process.argv.slice(2)
  const out = { pos: [], opts: {}, rest: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') { out.rest = argv.slice(i + 1); break }
    if (a === '-h' || a === '--help') { process.stdout.write(usage + '\n'); process.exit(0) }
    if (!a.startsWith('--')) { out.pos.push(a); continue }
    let name = a.slice(2)
    let val = null
    const eq = name.indexOf('=')
    if (eq !== -1) { val = name.slice(eq + 1); name = name.slice(0, eq) }
    const type = spec[name]
    if (!type) usageError(usage, 'unknown flag --' + name)
    if (type === 'bool') {
      if (val !== null) usageError(usage, '--' + name + ' takes no value')
      out.opts[name] = true
      continue
    }
    if (val === null) {
      if (i + 1 >= argv.length) usageError(usage, '--' + name + ' needs a value')
      val = argv[++i]
    }
    if (type === 'int') {
      if (!/^\d+$/.test(val)) usageError(usage, '--' + name + ' needs a non-negative integer, got ' + JSON.stringify(val))
      val = Number(val)
    } else if (Array.isArray(type)) {
      if (type.indexOf(val) === -1) usageError(usage, '--' + name + ' must be one of ' + type.join('|'))
    }
    out.opts[name] = val
  }
  return out
}

function usageError (usage, msg) {
  process.stderr.write(scriptName() + ': ' + msg + '\n' + usage + '\n')
  process.exit(2)
}

function scriptName () {
  return require('path').basename(process.argv[1] || 'script')
}

// Print one line to stderr and exit 1. `err` may be an Error or a string.
function die (err) {
  const msg = (err && err.message) ? err.message : String(err)
  process.stderr.write(scriptName() + ': ' + msg.split('\n')[0] + '\n')
  process.exit(1)
}

// Open the LevelDB at `dir` and a hyperlog on it; cb(err, log, db) once the
// hyperlog knows its id and change counter.
//   opts.binary         valueEncoding 'binary' instead of 'json'
//   opts.createIfMissing false: fail on a missing database (default true)
//   opts.readOnlyId     do not store a fresh log id in a database that has none
//                       (hyperlog otherwise writes '!!id' on open)
//   opts.id             the log id to use (see make.js --log-id)
function openLog (dir, opts, cb) {
  opts = opts || {}
  const db = level(dir, { createIfMissing: opts.createIfMissing !== false }, function (err) {
    if (err) return cb(err)
    const hopts = { valueEncoding: opts.binary ? 'binary' : 'json' }
    if (opts.id) hopts.id = opts.id
    if (opts.readOnlyId) {
      // hyperlog's getId hook: read the stored id, never write one.
      hopts.getId = function (done) {
        db.get('!!id', function (err, id) { done(null, err ? null : id) })
      }
    }
    const log = hyperlog(db, hopts)
    // Not log.ready(): with an explicit id it returns before hyperlog has read
    // its change counter. Taking the lock waits for the startup scan either way.
    log.lock(function (release) { release(); cb(null, log, db) })
  })
}

// The id stored in the database ('!!id'), or null. hyperlog keeps the id it
// uses in memory; it is stored only when hyperlog generated it itself.
function storedId (db, cb) {
  db.get('!!id', function (err, id) { cb(null, err ? null : id) })
}

// Close the db, then exit with `code` (after stdout has drained).
function closeAndExit (db, code) {
  db.close(function (err) {
    if (err && !code) return die(err)
    process.stdout.write('', function () { process.exit(code || 0) })
  })
}

// A node value: {"i":12,"msg":"a-node 000012 lorem ipsum dolor sit amet"},
// with msg padded (by repeating the lorem text) so that its JSON is exactly
// `valueBytes` bytes long when that is larger than the natural size.
const LOREM = ' lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor'
function makeValue (i, tag, valueBytes) {
  const v = { i: i, msg: tag + ' ' + String(i).padStart(6, '0') + ' lorem ipsum dolor sit amet' }
  if (valueBytes) {
    const short = valueBytes - Buffer.byteLength(JSON.stringify(v))
    if (short > 0) v.msg += LOREM.repeat(Math.ceil(short / LOREM.length)).slice(0, short)
  }
  return v
}

// What to hand hyperlog as a value: the object itself with the json encoding,
// or the same JSON text as raw bytes with --binary (so the stored bytes are
// identical either way).
function encodeValue (v, binary) {
  return binary ? Buffer.from(JSON.stringify(v)) : v
}

// Append `w.count` nodes to the log's own log, values makeValue(SEQ, w.tag,
// w.valueBytes) where SEQ continues the own log's seq. w.strands: 0 = unlinked
// nodes, w.batch (default 1000) per hyperlog.batch(); K >= 1 = K interleaved
// chains (node j links node j-K, the first K link the current heads), one batch
// of K per layer, so no batch links inside itself. cb(err).
function writeNodes (log, w, cb) {
  const count = w.count
  const strands = w.strands || 0
  const batchSize = w.batch || 1000
  const tag = w.tag || 'a-node'
  let done = 0

  function value (seq) { return encodeValue(makeValue(seq, tag, w.valueBytes), w.binary) }

  // Write a batch; check that hyperlog kept every doc (it drops, without an
  // error, any doc of a multi-doc batch whose links it cannot find).
  function write (docs, next) {
    log.batch(docs, function (err, nodes) {
      if (err) return cb(err)
      if (nodes.length !== docs.length) return cb(new Error('hyperlog.batch kept ' + nodes.length + ' of ' + docs.length + ' nodes'))
      next()
    })
  }

  log.logs.head(log.id, function (err, seq) {
    if (err) return cb(err)
    if (strands === 0) return unlinked(seq)
    log.heads(function (err, heads) {
      if (err) return cb(err)
      linked(seq, heads.map(function (h) { return h.key }))
    })
  })

  function unlinked (seq) {
    if (done >= count) return cb(null)
    const docs = []
    const n = Math.min(batchSize, count - done)
    for (let k = 1; k <= n; k++) docs.push({ links: [], value: value(seq + done + k) })
    write(docs, function () {
      done += n
      unlinked(seq)
    })
  }

  // prev[j] = the links of strand j's next node.
  let prev = null
  function linked (seq, heads) {
    if (!prev) {
      prev = []
      for (let j = 0; j < strands; j++) prev.push(heads)
    }
    if (done >= count) return cb(null)
    const n = Math.min(strands, count - done)
    const docs = []
    for (let k = 0; k < n; k++) docs.push({ links: prev[k], value: value(seq + done + k + 1) })
    write(docs, function () {
      // hyperlog returns a batch's nodes in the order their link look-ups
      // finished, not in docs order, so find each strand's new key by hashing
      // exactly what hyperlog hashes (the links and the stored value bytes).
      for (let k = 0; k < n; k++) prev[k] = [log.hash(docs[k].links, rawValue(docs[k].value))]
      done += n
      linked(seq)
    })
  }
}

// The bytes hyperlog stores (and hashes) for a value given with the json or
// binary encoding.
function rawValue (v) {
  return Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))
}

// Summary of a log for stdout: {"log","count","heads"} where count is the
// number of nodes (hyperlog's change counter), heads the current heads and
// log the stored id (null if the db has none).
function summary (log, db, cb) {
  storedId(db, function (_, id) {
    log.heads(function (err, heads) {
      if (err) return cb(err)
      cb(null, { log: id, count: log.changes, heads: heads.map(function (h) { return h.key }).sort() })
    })
  })
}

module.exports = {
  parseArgs, usageError, die, openLog, storedId, closeAndExit, makeValue, encodeValue, rawValue, writeNodes, summary
}
