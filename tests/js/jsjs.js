'use strict'
const USAGE = `usage: node jsjs.js A B [--mode M] [--mode-b M] [--timeout MS]
                    [--a-args "ARGS"] [--b-args "ARGS"] [-- REP_ARGS...]
JS<->JS baseline: run "node rep.js A" and "node rep.js B" as two child processes and
join them with pipes (A's stdout -> B's stdin, B's stdout -> A's stdin, relayed through
this process, which counts the bytes). Prints one JSON line when both have exited:
  {"seconds","bytes_a_to_b","bytes_b_to_a","a":{"exit","stats"},"b":{...},"timed_out"}
seconds is the wall time from starting the children to both exits (it includes two
node start-ups, ~0.4 s each, in parallel); a.stats/b.stats are the children's
rep.js --stats lines (their own seconds exclude start-up and opening the db).
  --mode M       A's mode: sync (default), push or pull
  --mode-b M     B's mode; default: push when A pulls, pull when A pushes, else sync
  --timeout MS   passed to both children (rep.js --timeout: they close their dbs and
                 exit 3); 5 s after that this script kills what is left. For cases
                 that hang.
  --a-args STR   further rep.js flags for A only (split on whitespace), e.g.
                 --a-args "--append-count 5 --append-tag a"
  --b-args STR   the same for B
  -- REP_ARGS    further rep.js flags given to both children, e.g. -- --binary or
                 -- --live --exit-after 1000
Exit 0 if both children exited 0, 3 if one timed out, else 1.`

const path = require('path')
const { spawn } = require('child_process')
const c = require('./common')

const args = c.parseArgs(USAGE, {
  mode: ['sync', 'push', 'pull'], 'mode-b': ['sync', 'push', 'pull'], timeout: 'int', 'a-args': 'string', 'b-args': 'string'
})
if (args.pos.length !== 2) c.usageError(USAGE, 'need two DB paths, A and B')
const modeA = args.opts.mode || 'sync'
const modeB = args.opts['mode-b'] || ({ pull: 'push', push: 'pull', sync: 'sync' })[modeA]

const rep = path.join(__dirname, 'rep.js')
function childArgs (db, mode, own) {
  // --mode only when asked for or implied, so a default run's handshakes are those
  // of a plain log.replicate().
  const a = [rep, db].concat(mode === 'sync' && !args.opts.mode && !args.opts['mode-b'] ? [] : ['--mode', mode], ['--stats'], args.rest, (own || '').split(/\s+/).filter(Boolean))
  if (args.opts.timeout !== undefined) a.push('--timeout', String(args.opts.timeout))
  return a
}

const t0 = process.hrtime.bigint()
const kids = {
  a: spawn(process.execPath, childArgs(args.pos[0], modeA, args.opts['a-args']), { stdio: ['pipe', 'pipe', 'pipe'] }),
  b: spawn(process.execPath, childArgs(args.pos[1], modeB, args.opts['b-args']), { stdio: ['pipe', 'pipe', 'pipe'] })
}
const result = { seconds: null, bytes_a_to_b: 0, bytes_b_to_a: 0, a: {}, b: {}, timed_out: false }

// Relay one child's stdout into the other's stdin (with backpressure), counting
// bytes; end the other's stdin when this stdout ends.
function relay (from, to, counter) {
  from.stdout.on('data', function (buf) { result[counter] += buf.length })
  from.stdout.pipe(to.stdin)
  // The other side may exit first; writing to its closed stdin is not our error.
  to.stdin.on('error', function () {})
}
relay(kids.a, kids.b, 'bytes_a_to_b')
relay(kids.b, kids.a, 'bytes_b_to_a')

let left = 2
Object.keys(kids).forEach(function (name) {
  const kid = kids[name]
  let err = ''
  kid.stderr.on('data', function (buf) { err += buf })
  kid.on('close', function (code, signal) {
    const lines = err.split('\n').filter(Boolean)
    const r = result[name]
    r.exit = code === null ? signal : code
    // rep.js --stats writes its JSON as the last stderr line.
    try { r.stats = JSON.parse(lines[lines.length - 1]); lines.pop() } catch (e) { r.stats = null }
    if (lines.length) r.stderr = lines.join('\n')
    if (code === 3) result.timed_out = true
    // Once one side is gone, stop feeding the other so it can see EOF.
    const other = kids[name === 'a' ? 'b' : 'a']
    other.stdin.end()
    if (--left === 0) done()
  })
})

if (args.opts.timeout !== undefined) {
  setTimeout(function () {
    result.timed_out = true
    Object.keys(kids).forEach(function (name) {
      if (kids[name].exitCode === null && kids[name].signalCode === null) kids[name].kill('SIGKILL')
    })
  }, args.opts.timeout + 5000).unref()
}

function done () {
  result.seconds = +(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3)
  process.stdout.write(JSON.stringify(result) + '\n', function () {
    const ok = result.a.exit === 0 && result.b.exit === 0
    process.exit(ok ? 0 : (result.timed_out ? 3 : 1))
  })
}
