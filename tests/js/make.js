'use strict'
const USAGE = `usage: node make.js DB --count N [--chain | --strands K | --batch B] [--log-id ID]
                    [--value-bytes B] [--tag TAG] [--binary]
Create the LevelDB hyperlog DB (or open an existing one) and append N nodes to its
own log, then print {"log","count","added","heads","seconds"} as one JSON line.
Values: {"i":SEQ,"msg":"TAG 000012 lorem ipsum dolor sit amet"} where SEQ is the
node's seq in the db's own log (so a second run on the same db continues), TAG
defaults to "a-node".
  (default)        unlinked nodes (no links at all), written B per hyperlog.batch()
                   call; every node is a head. The fastest way to get many nodes.
  --batch B        batch size for the unlinked mode (default 1000)
  --chain          one chain: each node links the previous one (the first links the
                   db's current heads), one hyperlog.add() per node
  --strands K      K interleaved chains: node j links node j-K (the first K link the
                   db's current heads); written one batch of K nodes at a time, so no
                   batch ever links inside itself (hyperlog's batch silently drops such
                   nodes). --strands 1 is --chain. Within one layer hyperlog hands
                   out the seqs in the order its link look-ups finish, so there a
                   node's seq can differ from its i (e.g. seq 61 holds i 62).
  --log-id ID      use ID as the db's own log id; stored as '!!id' if the db has none,
                   refused (exit 1) if the db already has another id
  --value-bytes B  pad msg so each value's JSON is exactly B bytes (when B is larger
                   than the natural ~55-60 bytes)
  --tag TAG        msg prefix (default "a-node"). Two dbs made with the same tag and
                   mode hold identical nodes (same keys under different log ids):
                   give each db of a test its own tag.
  --binary         open with valueEncoding 'binary' and pass the same JSON text as
                   bytes (the stored bytes are the same as with json)
Exit 0 on success, 1 with one line on stderr on error, 2 on a usage error.`

const c = require('./common')

const args = c.parseArgs(USAGE, {
  count: 'int', chain: 'bool', strands: 'int', batch: 'int', 'log-id': 'string',
  'value-bytes': 'int', tag: 'string', binary: 'bool'
})
if (args.pos.length !== 1) c.usageError(USAGE, 'need exactly one DB path')
if (args.opts.count === undefined) c.usageError(USAGE, '--count is required')
const o = args.opts
const count = o.count
let strands = 0 // 0 = unlinked
if (o.chain) strands = 1
if (o.strands !== undefined) {
  if (o.chain && o.strands !== 1) c.usageError(USAGE, '--chain and --strands K>1 conflict')
  if (o.strands < 1) c.usageError(USAGE, '--strands must be >= 1')
  strands = o.strands
}
if (strands && o.batch !== undefined) c.usageError(USAGE, '--batch is for the unlinked mode only')
const batchSize = o.batch || 1000
if (batchSize < 1) c.usageError(USAGE, '--batch must be >= 1')
const tag = o.tag || 'a-node'
const logId = o['log-id']
if (logId !== undefined && (!logId || logId.indexOf('!') !== -1)) c.usageError(USAGE, '--log-id must be non-empty and contain no "!"')

const t0 = process.hrtime.bigint()

c.openLog(args.pos[0], { binary: o.binary, id: logId }, function (err, log, db) {
  if (err) return c.die(err)
  c.storedId(db, function (_, stored) {
    if (logId && stored && stored !== logId) return c.die('db already has log id ' + stored + ', not ' + logId)
    if (logId && !stored) db.put('!!id', logId, start)
    else start()
  })

  function start (err) {
    if (err) return c.die(err)
    c.writeNodes(log, { count: count, strands: strands, batch: batchSize, tag: tag, valueBytes: o['value-bytes'], binary: o.binary }, function (err) {
      if (err) return c.die(err)
      finish()
    })
  }

  function finish () {
    c.summary(log, db, function (err, s) {
      if (err) return c.die(err)
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9
      process.stdout.write(JSON.stringify({ log: s.log, count: s.count, added: count, heads: s.heads.length, seconds: +seconds.toFixed(3) }) + '\n')
      c.closeAndExit(db, 0)
    })
  }
})
