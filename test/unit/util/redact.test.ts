import t from 'tap'
import { MAX_QUOTE, redactQuote, redactUrl, secretForms } from '../../../src/util/redact.js'

t.test('secretForms: each secret as typed and as HTTP Basic or base64 sends it; short ones only in their base64 form', async (t) => {
  t.same(secretForms('owner', 'hunter22'), ['hunter22', Buffer.from('owner:hunter22').toString('base64')])
  t.same(secretForms(undefined, 'pw'), [Buffer.from(':pw').toString('base64')], '"pw" alone would blank every "pw" in a message')
  t.same(secretForms(undefined, undefined, 'token-123'), ['token-123', Buffer.from('token-123').toString('base64')])
  t.same(secretForms(undefined, undefined), [])
})

t.test('redactQuote: secrets replaced (a longer one first), control characters blanked, capped', async (t) => {
  t.equal(redactQuote('a abc abcdef b', ['abc', 'abcdef']), 'a [redacted] [redacted] b')
  t.equal(redactQuote('line\nbreak\u0007bell', []), 'line break bell')
  const long = redactQuote('x'.repeat(MAX_QUOTE + 50), [])
  t.equal(long.length, MAX_QUOTE + 1)
  t.ok(long.endsWith('…'))
  t.equal(redactQuote('short', [], 3), 'sho…')
  t.equal(redactUrl('not a url'), '(invalid url)')
})
