'use strict'
const USAGE = `usage: node make-two-logs.js DB [--other N] [--own N] [--own-before N]
                             [--tag TAG] [--other-tag TAG] [--binary]
Make a 2-log LevelDB hyperlog DB in which the second log is reachable only through
links, so a replication sender announces it lazily (a 'have' sent just before the
first node that links into it, not in the heads phase):
  1. append --own-before chain nodes to DB's own log (default 0)
  2. build a second hyperlog in a temp dir with --other chain nodes (default 1000,
     tag "b-node") under its own log id, and replicate it into DB in-process
  3. append --own chain nodes (default 100, tag "a-node") to DB on top: the first
     links DB's current heads (the second log's tip, and the step-1 tip if any),
     so DB ends with a single head, in its own log
  4. delete the temp dir
Defaults give 1,100 nodes. Prints one JSON line
  {"log","other_log","count","heads":[...],"logs":{LOG_ID: max seq}}.
  --tag TAG / --other-tag TAG  msg prefixes of DB's own / the second log's nodes
  --binary                     valueEncoding 'binary' (same stored bytes)
Exit 0, 1 with one line on stderr on error, 2 on a usage error.`

const fs = require('fs')
const os = require('os')
const path = require('path')
const c = require('./common')

const args = c.parseArgs(USAGE, {
  other: 'int', own: 'int', 'own-before': 'int', tag: 'string', 'other-tag': 'string', binary: 'bool'
})
if (args.pos.length !== 1) c.usageError(USAGE, 'need exactly one DB path')
const o = args.opts
const nOther = o.other !== undefined ? o.other : 1000
const nOwn = o.own !== undefined ? o.own : 100
const nBefore = o['own-before'] || 0
const tag = o.tag || 'a-node'
const otherTag = o['other-tag'] || 'b-node'
if (tag === otherTag) c.usageError(USAGE, '--tag and --other-tag must differ (equal tags make equal nodes)')

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hyperlog-other-'))
function cleanup () { fs.rmSync(tmp, { recursive: true, force: true }) }
function fail (err) { cleanup(); c.die(err) }

function chain (log, n, t, cb) {
  c.writeNodes(log, { count: n, strands: 1, tag: t, binary: o.binary }, cb)
}

// Replicate two hyperlogs in this process; cb once both streams have ended.
function replicate (a, b, cb) {
  const sa = a.replicate()
  const sb = b.replicate()
  let left = 2
  let failed = false
  function end () { if (--left === 0) cb(null) }
  function error (err) { if (!failed) { failed = true; cb(err) } }
  sa.on('end', end).on('error', error)
  sb.on('end', end).on('error', error)
  sa.pipe(sb).pipe(sa)
}

c.openLog(args.pos[0], { binary: o.binary }, function (err, log, db) {
  if (err) return fail(err)
  chain(log, nBefore, tag, function (err) {
    if (err) return fail(err)
    c.openLog(tmp, { binary: o.binary }, function (err, other, otherDb) {
      if (err) return fail(err)
      chain(other, nOther, otherTag, function (err) {
        if (err) return fail(err)
        replicate(log, other, function (err) {
          if (err) return fail(err)
          otherDb.close(function (err) {
            if (err) return fail(err)
            cleanup()
            chain(log, nOwn, tag, function (err) {
              if (err) return c.die(err)
              c.summary(log, db, function (err, s) {
                if (err) return c.die(err)
                const logs = {}
                // The per-log seq tables ('!logs!'), as a peer would announce them.
                let pending = 2
                ;[log.id, other.id].forEach(function (id) {
                  log.logs.head(id, function (err, seq) {
                    if (err) return c.die(err)
                    logs[id] = seq
                    if (--pending === 0) {
                      process.stdout.write(JSON.stringify({ log: s.log, other_log: other.id, count: s.count, heads: s.heads, logs: logs }) + '\n')
                      c.closeAndExit(db, 0)
                    }
                  })
                })
              })
            })
          })
        })
      })
    })
  })
})
