'use strict'
const USAGE = `usage: node kill-write.js DB --count N [--chain | --strands K | --batch B]
                          [--tag TAG] [--value-bytes B] [--exit] [--binary]
Append N nodes to the LevelDB hyperlog DB exactly like make.js (same flags and
values; default unlinked), print {"log","count","added","heads"} as one JSON line,
and then die WITHOUT closing the db: by default it sends itself SIGKILL (so the
exit status is 137 / signal KILL), with --exit it calls process.exit(0). Either way
LevelDB is not closed cleanly: the newest writes are only in its write-ahead .log
file (written, not fsynced: they survive the process, not a machine crash), and
the LOCK file is left behind (LevelDB's lock is a POSIX lock, so it goes with the
process and a later open works).
Exit: killed by SIGKILL (or 0 with --exit); 1 with one line on stderr on error.`

const c = require('./common')

const args = c.parseArgs(USAGE, {
  count: 'int', chain: 'bool', strands: 'int', batch: 'int', tag: 'string',
  'value-bytes': 'int', exit: 'bool', binary: 'bool'
})
if (args.pos.length !== 1) c.usageError(USAGE, 'need exactly one DB path')
const o = args.opts
if (o.count === undefined) c.usageError(USAGE, '--count is required')
let strands = o.chain ? 1 : 0
if (o.strands !== undefined) {
  if (o.strands < 1) c.usageError(USAGE, '--strands must be >= 1')
  strands = o.strands
}

c.openLog(args.pos[0], { binary: o.binary }, function (err, log, db) {
  if (err) return c.die(err)
  c.writeNodes(log, { count: o.count, strands: strands, batch: o.batch, tag: o.tag, valueBytes: o['value-bytes'], binary: o.binary }, function (err) {
    if (err) return c.die(err)
    c.summary(log, db, function (err, s) {
      if (err) return c.die(err)
      // Writes to a pipe or file are synchronous on Linux, so this line is out
      // before we die.
      process.stdout.write(JSON.stringify({ log: s.log, count: s.count, added: o.count, heads: s.heads.length }) + '\n', function () {
        if (o.exit) process.exit(0)
        process.kill(process.pid, 'SIGKILL')
      })
    })
  })
})
