/**
 * The 2019 script's reading of its config: PyYAML's YAML 1.1 resolvers (resolver.py, constructor.py)
 * and Python 3's str(). Each expected value is what `python3 -c 'import yaml; print(yaml.load(...))'`
 * prints by those rules.
 */
import fc from 'fast-check'
import t from 'tap'
import { pythonFloat, pythonScalar, readAsPython } from '../../../src/config/python-yaml.js'

t.test('plain scalars: the YAML 1.1 types PyYAML resolves, printed as Python prints them', async (t) => {
  const cases: Array<[string, string | null]> = [
    ['06000', '3072'], // a leading 0 and digits 0-7: octal
    ['-017', '-15'],
    ['08000', '08000'], // an 8: not octal, not decimal (a leading 0): a string
    ['0', '0'],
    ['75000', '75000'],
    ['+5', '5'],
    ['1_000', '1000'],
    ['0x1F', '31'],
    ['0b101', '5'],
    ['12:30', '750'], // base 60
    ['190:20:30', '685230'],
    ['7.0', '7.0'],
    ['2.350', '2.35'],
    ['1.', '1.0'],
    ['.5', '0.5'],
    ['1.0e+5', '100000.0'],
    ['1e5', '1e5'], // no dot: a string in YAML 1.1
    ['1.0e5', '1.0e5'], // an exponent needs its sign: a string
    ['1:30.5', '90.5'],
    ['.inf', 'inf'],
    ['-.Inf', '-inf'],
    ['.NaN', 'nan'],
    ['yes', 'True'],
    ['No', 'False'],
    ['ON', 'True'],
    ['off', 'False'],
    ['true', 'True'],
    ['y', 'y'], // PyYAML does not take y and n as booleans
    ['~', null],
    ['null', null],
    ['', null],
    ['Paris', 'Paris'],
    ['5 rue Pierre', '5 rue Pierre']
  ]
  for (const [typed, written] of cases) t.equal(pythonScalar(typed).written, written, typed)
})

t.test("floats print as Python's repr: shortest digits, exponent below 1e-4 and from 1e16", async (t) => {
  const cases: Array<[number, string]> = [[7, '7.0'], [43.7, '43.7'], [1e16, '1e+16'], [1.5e16, '1.5e+16'], [123456789012345.6, '123456789012345.6'],
    [0.0001, '0.0001'], [0.00001, '1e-05'], [-0.5, '-0.5'], [-0, '-0.0'], [5e-324, '5e-324'], [1e22, '1e+22'], [100, '100.0']]
  for (const [x, printed] of cases) t.equal(pythonFloat(x), printed, String(x))
  // Between 1e-4 and 1e16, Python's repr and JavaScript's String() differ only in the ".0" of whole numbers.
  fc.assert(fc.property(fc.double({ min: 1e-4, max: 1e15, noNaN: true }), (x) => {
    const js = String(x)
    t.equal(pythonFloat(x), js.includes('.') || js.includes('e') ? js : `${js}.0`)
  }), { numRuns: 200 })
})

t.test('a document: quoted scalars as typed, keys resolved too, aliases followed and bounded, the changes listed', async (t) => {
  const r = readAsPython('a:\n  CP: 06000\n  q: "06000"\n  s: \'yes\'\n  n:\n  list: [010, x]\n  0123: k\nb: &x 7.0\nc: *x\n')
  t.same(r.value, { a: { CP: '3072', q: '06000', s: 'yes', n: null, list: ['8', 'x'], 83: 'k' }, b: '7.0', c: '7.0' })
  t.same(r.mangled.map((m) => [m.path, m.typed, m.written]), [['a.CP', '06000', '3072'], ['a.n', '', 'None'], ['a.list[0]', '010', '8'], ['a.0123 (a key)', '0123', '83']])
  t.throws(() => readAsPython('a: &a x\nb: [' + Array(101).fill('*a').join(', ') + ']\n'), /more than 100 aliases/)
  t.throws(() => readAsPython('a: [\n'), Error)
  t.same(readAsPython('{a, b: +1.5, c: -0x1F, d: +.inf}\n').value, { a: null, b: '1.5', c: '-31', d: 'inf' }, 'a key without a value is None; signs')
})
