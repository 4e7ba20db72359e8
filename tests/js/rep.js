'use strict'
const USAGE = `usage: node rep.js DB [--mode sync|push|pull] [--live] [--binary]
                   [--append-count N] [--append-every MS] [--append-tag TAG]
                   [--exit-after MS] [--timeout MS] [--stats]
One hyperlog replication peer over stdin/stdout:
  process.stdin.pipe(log.replicate({mode, live})).pipe(process.stdout)
on the LevelDB hyperlog DB (created if missing; valueEncoding 'json').
When the replication stream ends (hyperlog ends it once both sides are done, or
once stdin reaches EOF) the db is closed and the process exits 0. A stream error
prints one line on stderr and exits 1.
  --mode M          sync (default), push or pull: hyperlog's replicate({mode})
  --live            replicate({live: true}); live is sticky, so the remote goes live
                    too. A live session ends when stdin reaches EOF (the remote closed
                    its side), at --exit-after, or at --timeout.
  --append-count N  (live) once the session is live, append N local nodes with
                    log.append(), i.e. each links the current heads, values
                    {"js":1} ... {"js":N}, one every --append-every ms (default 100);
                    the first one --append-every ms after going live. Two JS peers
                    that both append while their heads are equal create identical
                    nodes (same links, same value, so the same key) under two log ids:
                    give each its own --append-tag.
  --append-tag TAG  append values {"js":i,"tag":TAG} instead
  --exit-after MS   (live) MS ms after going live, or after the last append if there
                    are appends, end the session cleanly: stop reading stdin, end the
                    replication stream (hyperlog flushes and ends stdout), close the
                    db, exit 0. Leave >= 100 ms for the last node to go out.
  --timeout MS      whatever happens, after MS ms (from start) print a line on stderr,
                    close the db and exit 3; for cases that hang (e.g. uneven copies of
                    one log id)
  --stats           at exit print one JSON line on stderr:
                    {"pushed","pulled","appended","live","count","log","seconds"}
                    pushed/pulled are hyperlog's 'push'/'pull' events (nodes sent in
                    the have/want phase / nodes received and inserted; nodes sent
                    live are not counted), count the db's node count at exit
  --binary          valueEncoding 'binary': live relays send the stored bytes as they
                    are (with json, hyperlog re-encodes them with JSON.stringify, which
                    changes the key of any value not already in that exact form)
Exit codes: 0 ended, 1 error, 2 usage, 3 timeout.`

const c = require('./common')

const args = c.parseArgs(USAGE, {
  mode: ['sync', 'push', 'pull'], live: 'bool', binary: 'bool', 'append-count': 'int',
  'append-every': 'int', 'append-tag': 'string', 'exit-after': 'int', timeout: 'int', stats: 'bool'
})
if (args.pos.length !== 1) c.usageError(USAGE, 'need exactly one DB path')
const o = args.opts
const appendCount = o['append-count'] || 0
const appendEvery = o['append-every'] !== undefined ? o['append-every'] : 100
if (!o.live && ['append-count', 'append-every', 'append-tag', 'exit-after'].some(function (f) { return o[f] !== undefined })) {
  c.usageError(USAGE, '--append-count, --append-every, --append-tag and --exit-after need --live')
}

const t0 = process.hrtime.bigint()
const stats = { pushed: 0, pulled: 0, appended: 0, live: false }
let db = null
let log = null
let exiting = false

// Close the db (at most once), print --stats, exit.
function exit (code, msg) {
  if (exiting) return
  exiting = true
  if (msg) process.stderr.write('rep.js: ' + msg.split('\n')[0] + '\n')
  // A db close that cannot finish (work still queued) must not keep us alive.
  setTimeout(function () { process.exit(code) }, 2000).unref()
  if (!db) return process.exit(code)
  db.close(function () {
    if (o.stats) {
      stats.count = log ? log.changes : null
      stats.log = log ? log.id : null
      stats.seconds = +(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3)
      process.stderr.write(JSON.stringify(stats) + '\n')
    }
    process.stdout.write('', function () { process.exit(code) })
  })
}

if (o.timeout !== undefined) {
  setTimeout(function () {
    exit(3, 'timeout after ' + o.timeout + ' ms, ' + (stats.live ? 'session still live' : 'replication not finished'))
  }, o.timeout).unref()
}

// The remote closing its reading end is an error of the session.
process.stdout.on('error', function (err) { exit(1, String(err.message || err)) })

c.openLog(args.pos[0], { binary: o.binary }, function (err, l, d) {
  if (err) return c.die(err)
  log = l
  db = d
  // Only what was asked for: with neither flag the handshake is exactly that of a
  // plain log.replicate() (version only; hyperlog then means sync, not live).
  const ropts = {}
  if (o.mode) ropts.mode = o.mode
  if (o.live) ropts.live = true
  const stream = log.replicate(ropts)

  stream.on('push', function () { stats.pushed++ })
  stream.on('pull', function () { stats.pulled++ })
  stream.on('error', function (err) { exit(1, String(err.message || err)) })
  stream.on('end', function () { exit(0) })
  // duplexify emits 'close' only when the stream is destroyed; after 'end' or
  // 'error' exit() has already run and this does nothing.
  stream.on('close', function () { exit(1, 'replication stream closed before it ended') })

  stream.on('live', function () {
    stats.live = true
    if (appendCount) {
      let i = 0
      const timer = setInterval(function () {
        if (exiting) return clearInterval(timer)
        const n = ++i
        if (n >= appendCount) clearInterval(timer)
        const v = o['append-tag'] === undefined ? { js: n } : { js: n, tag: o['append-tag'] }
        log.append(c.encodeValue(v, o.binary), function (err) {
          if (err) return exit(1, 'append: ' + err.message)
          stats.appended++
          if (n === appendCount) scheduleExit()
        })
      }, appendEvery)
    } else {
      scheduleExit()
    }
  })

  function scheduleExit () {
    if (o['exit-after'] === undefined) return
    setTimeout(function () {
      // Stop feeding the stream, then end it: hyperlog finalizes, our stdout
      // ends, the stream emits 'end' and we close and exit 0.
      process.stdin.unpipe(stream)
      stream.end()
    }, o['exit-after'])
  }

  process.stdin.pipe(stream).pipe(process.stdout)
})
