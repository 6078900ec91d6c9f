// The thread budget: onnxruntime threads derived from the cores and the inference workers,
// and the warning when workers x threads outnumber the cores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oversubscribed, threadBudget } from '../../src/app/thread-budget.js';
import { inProcessThreads, modelThreads } from '../../src/vision/factory.js';
import { defaultConfig } from '../fixtures.js';

test('models.threads 0: the cores shared among the inference workers, at least 1, at most 4', () => {
  const two = defaultConfig({ 'vision.inferenceWorkers': 2 });
  assert.equal(two.models.threads, 0, 'derived by default');
  assert.equal(modelThreads(defaultConfig(), 2), 2, 'the default, one worker on 2 cores: 2, as before');
  assert.equal(modelThreads(two, 2), 1, '2 cores, 2 workers: 1 each');
  assert.equal(modelThreads(two, 4), 2, 'a Pi: 2 each');
  assert.equal(modelThreads(two, 1), 1);
  assert.equal(modelThreads(two, 32), 4);
  assert.equal(modelThreads(defaultConfig({ 'vision.inferenceWorkers': 1 }), 2), 2, 'one worker: the cores');
  assert.equal(modelThreads(defaultConfig({ 'vision.inferenceWorker': false, 'vision.inferenceWorkers': 2 }), 2), 2, 'models on the event loop: one run at a time');
  assert.equal(modelThreads(defaultConfig({ 'models.threads': 3 }), 2), 3, 'a set value is kept');
  assert.ok(inProcessThreads(two) >= 1);
});

test('workers x threads over the cores is reported, at or under them is not', () => {
  const over = threadBudget({ imageThreads: 0, loadWorkers: 0, inferenceWorkers: 2, onnxThreads: 2 }, 2);
  assert.equal(over.inferenceThreads, 4);
  assert.match(oversubscribed(over) ?? '', /2 inference workers x 2 onnxruntime threads = 4 threads on 2 cores/);
  assert.equal(oversubscribed(threadBudget({ imageThreads: 0, loadWorkers: 0, inferenceWorkers: 2, onnxThreads: 1 }, 2)), null);
});
