/**
 * The jest environment of every test file: Node, plus quiet passing tests. What a test (or its
 * hooks, or the code under test) writes to the console is held back and printed only when that test
 * fails; a failing hook or file prints everything held for it. A passing run prints no logs.
 */
const { TestEnvironment } = require('jest-environment-node');

const METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'];

class QuietEnvironment extends TestEnvironment {
  held = [];
  originals = undefined;
  failed = false;

  hold() {
    const console = this.global.console;
    if (this.originals !== undefined || console === undefined) return;
    this.originals = {};
    for (const method of METHODS) {
      const original = console[method].bind(console);
      this.originals[method] = original;
      console[method] = (...args) => this.held.push({ method, args });
    }
  }

  release() {
    if (this.originals === undefined) return;
    for (const { method, args } of this.held) this.originals[method](...args);
    this.held = [];
  }

  handleTestEvent(event) {
    switch (event.name) {
      case 'setup':
      case 'run_start':
        this.hold();
        break;
      case 'test_start':
        this.hold();
        // What earlier tests of a passing file wrote is not this test's: drop it.
        if (!this.failed) this.held = [];
        break;
      case 'test_done':
        if (event.test.errors.length > 0) {
          this.failed = true;
          this.release();
        } else if (!this.failed) this.held = [];
        break;
      case 'hook_failure':
        this.failed = true;
        this.release();
        break;
      case 'run_finish':
        if (this.failed) this.release();
        else this.held = [];
        break;
      default:
        break;
    }
  }
}

module.exports = QuietEnvironment;
