import { describe, expect, it } from 'vitest'
import { parseResumeRequest } from '../../hub/src/routing/resume.js'
import { MAX_LOG_READ } from '../../hub/src/routing/router.js'

describe('resume request fields (admin query and MQTT JSON alike)', () => {
  it.each([
    [{ key: 'devices/d42' }, { key: 'devices/d42', since: { epoch: 0, seq: 0 }, limit: MAX_LOG_READ }],
    [{ key: 'devices/d42', since: '3:17', limit: '5' }, { key: 'devices/d42', since: { epoch: 3, seq: 17 }, limit: 5 }],
    [{ key: 'devices/d42', since: { epoch: 3, seq: 17 }, limit: 1 }, { key: 'devices/d42', since: { epoch: 3, seq: 17 }, limit: 1 }],
  ])('%o is read as %o', (fields, expected) => {
    expect(parseResumeRequest(fields, 2)).toEqual(expected)
  })

  it.each([
    [{}, /key is required/],
    [{ key: 42 }, /key is required/],
    [{ key: 'devices/d42/temp' }, /not a key/],
    [{ key: '$SYS/broker' }, /not a key/],
    [{ key: 'devices/d42', since: '3-17' }, /since must be/],
    [{ key: 'devices/d42', since: { epoch: -1, seq: 0 } }, /since must be/],
    [{ key: 'devices/d42', since: { epoch: 1.5, seq: 0 } }, /since must be/],
    [{ key: 'devices/d42', since: 7 }, /since must be/],
    [{ key: 'devices/d42', limit: 0 }, /limit must be/],
    [{ key: 'devices/d42', limit: MAX_LOG_READ + 1 }, /limit must be/],
    [{ key: 'devices/d42', limit: 'many' }, /limit must be/],
  ])('%o is refused', (fields, error) => {
    expect(parseResumeRequest(fields, 2)).toMatch(error)
  })
})
