/**
 * The pure parts behind secrets as files: the resident-parent predicate, the ordered exit tasks, and how a
 * --mount name picks its format.
 */
import { describe, expect, it } from 'vitest';
import { addExitTask, exitTaskNames, runExitTasks } from '../src/process/exit-tasks.js';
import { residentParentReason } from '../src/process/resident.js';
import { mountFormat } from '../src/process/files/mount.js';
import { UsageError } from '../src/core/errors.js';

describe('residentParentReason', () => {
  it('is undefined only when nothing needs the parent', () => {
    expect(residentParentReason({ pid1: false })).toBeUndefined();
    expect(residentParentReason({ pid1: false, noExec: false, mask: false, watch: false, files: false })).toBeUndefined();
  });

  it.each([
    [{ pid1: true }, 'secretrun is PID 1 (it relays signals and reaps orphans)'],
    [{ pid1: false, noExec: true }, '--no-exec'],
    [{ pid1: false, mask: true }, '--mask copies the output'],
    [{ pid1: false, watch: true }, '--watch/--listen restart the command'],
    [{ pid1: false, files: true }, 'secret files (as_file, --mount) are served and removed at exit'],
  ])('%j -> %s', (input, reason) => {
    expect(residentParentReason(input)).toBe(reason);
  });

  it('names the first reason that applies', () => {
    expect(residentParentReason({ pid1: true, files: true, mask: true })).toBe('secretrun is PID 1 (it relays signals and reaps orphans)');
    expect(residentParentReason({ pid1: false, files: true, mask: true })).toBe('--mask copies the output');
  });
});

describe('exit tasks', () => {
  it('run in the order added, once; a failing or overrunning task is reported by name and the next one still runs', async () => {
    const ran: string[] = [];
    const problems: string[] = [];
    addExitTask('first', () => void ran.push('first'), 1000);
    addExitTask('failing', () => {
      ran.push('failing');
      throw Object.assign(new Error('a message that may quote a value'), { code: 'EACCES' });
    }, 1000);
    addExitTask('never ending', () => {
      ran.push('never ending');
      return new Promise<void>(() => {});
    }, 20);
    addExitTask('async last', async () => {
      await Promise.resolve();
      ran.push('async last');
    }, 1000);
    expect(exitTaskNames()).toEqual(['first', 'failing', 'never ending', 'async last']);
    await runExitTasks((m) => problems.push(m));
    expect(ran).toEqual(['first', 'failing', 'never ending', 'async last']);
    expect(problems).toEqual(['failing failed (EACCES)', 'never ending: not finished after 0.02s; exiting without it']);
    expect(exitTaskNames()).toEqual([]);
    await runExitTasks((m) => problems.push(m));
    expect(ran).toHaveLength(4);
  });
});

describe('mountFormat', () => {
  it.each([
    ['secrets.json', 'json'],
    ['/run/app/Secrets.JSON', 'json'],
    ['a.yaml', 'yaml'],
    ['a.yml', 'yaml'],
    ['.env', 'dotenv'],
    ['prod.env', 'dotenv'],
    ['.env.local', 'dotenv'],
  ])('%s -> %s', (path, format) => {
    expect(mountFormat(path, undefined)).toBe(format);
  });

  it('--mount-format wins; an unknown name without it, or an unknown format, is a usage error', () => {
    expect(mountFormat('secrets.json', 'yaml')).toBe('yaml');
    expect(mountFormat('secrets', 'dotenv')).toBe('dotenv');
    expect(() => mountFormat('secrets', undefined)).toThrow(UsageError);
    expect(() => mountFormat('environment', undefined)).toThrow(UsageError);
    expect(() => mountFormat('s.json', 'toml')).toThrow(UsageError);
  });
});
