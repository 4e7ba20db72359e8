'use strict'
const USAGE = `usage: node dump.js DB [--summary] [--binary]
Print every node of the LevelDB hyperlog DB as one JSON line, in change order
(hyperlog's createReadStream, i.e. the '!changes!' rows in key order):
  {"key","log","seq","change","links":[...],"value":"<base64 of the stored value bytes>"}
plus "identity"/"signature" (base64) when a node has them. Then close the db.
  --summary  print one line {"log","count","heads":[sorted keys],"logs":{LOG_ID: max seq}}
             instead of the nodes (log is the db's stored '!!id', or null)
  --binary   accepted for symmetry with the other scripts; the values are always read
             raw, so the output is the same
The db is opened as it is: a missing db is an error, and no log id is written to a db
that has none. Opening runs LevelDB's recovery, which writes: a write-ahead .log left
by a process that did not close the db (kill-write.js) becomes a table file, so dump a
copy when the files themselves matter. Exit 0, or 1 with one line on stderr (e.g. the db is held open by
another process: LevelDB's lock).`

const c = require('./common')

const args = c.parseArgs(USAGE, { summary: 'bool', binary: 'bool' })
// A reader that stops early (| head) is not an error.
process.stdout.on('error', function (err) { if (err.code === 'EPIPE') process.exit(0); c.die(err) })
if (args.pos.length !== 1) c.usageError(USAGE, 'need exactly one DB path')

c.openLog(args.pos[0], { binary: args.opts.binary, createIfMissing: false, readOnlyId: true }, function (err, log, db) {
  if (err) return c.die(err)
  const perLog = {}
  const lines = []
  const rs = log.createReadStream({ valueEncoding: 'binary' })
  rs.on('data', function (node) {
    perLog[node.log] = Math.max(perLog[node.log] || 0, node.seq)
    if (args.opts.summary) return
    const row = {
      key: node.key,
      log: node.log,
      seq: node.seq,
      change: node.change,
      links: node.links,
      value: Buffer.from(node.value).toString('base64')
    }
    if (node.identity) row.identity = Buffer.from(node.identity).toString('base64')
    if (node.signature) row.signature = Buffer.from(node.signature).toString('base64')
    lines.push(JSON.stringify(row))
    if (lines.length >= 1000) flush()
  })
  rs.on('error', c.die)
  rs.on('end', function () {
    if (!args.opts.summary) {
      flush()
      return c.closeAndExit(db, 0)
    }
    c.summary(log, db, function (err, s) {
      if (err) return c.die(err)
      s.logs = perLog
      process.stdout.write(JSON.stringify(s) + '\n')
      c.closeAndExit(db, 0)
    })
  })

  function flush () {
    if (lines.length) process.stdout.write(lines.join('\n') + '\n')
    lines.length = 0
  }
})
