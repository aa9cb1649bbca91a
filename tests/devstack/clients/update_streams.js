// Update streams through the official JavaScript client: deltas, validation, invalidation.
// Usage: node update_streams.js <diffusion module dir> <host> <port> <topic root>
// Prints {steps: [...]} as JSON; errors are the server's reason codes. The values are book(n) below.
'use strict';
const [moduleDir, host, port, root] = process.argv.slice(2);
const diffusion = require(moduleDir);
diffusion.log('silent');

const json = diffusion.datatypes.json();
const string = diffusion.datatypes.string();
const { TopicType, TopicSpecification } = diffusion.topics;
const steps = [];
const { TopicCreationResult } = diffusion.topicUpdate;
const outcome = (result) => {
  if (result === undefined) return 'ok';
  if (result === TopicCreationResult.CREATED) return 'created';
  if (result === TopicCreationResult.EXISTS) return 'exists';
  return result;
};

async function step(name, action) {
  try {
    steps.push({ step: name, result: outcome(await action()) });
  } catch (error) {
    steps.push({ step: name, error: error && error.id !== undefined ? error.id : String(error) });
  }
}

// A value large enough that the client sends later ones as binary deltas.
const book = (n) => ({ n, symbol: 'ABC', bids: [100.25, 100.5, 100.75, 101], asks: [101.25, 101.5, 102], note: 'x'.repeat(64) });

(async () => {
  const session = await diffusion.connect({ host, port: Number(port), principal: 'admin', credentials: 'password' });
  const path = `${root}/book`;
  const stream = session.topicUpdate.newUpdateStreamBuilder()
    .specification(new TopicSpecification(TopicType.JSON))
    .build(path, json);
  await step('first set adds the topic', () => stream.set(book(1)));
  for (const n of [2, 3, 4]) await step(`set ${n}`, () => stream.set(book(n)));
  await step('validate', () => stream.validate());
  await step('another session-less set', () => session.topicUpdate.set(path, json, book(5)));
  await step('stream after another set', () => stream.set(book(6)));
  const second = session.topicUpdate.newUpdateStreamBuilder().build(path, json);
  await step('new stream on the topic', () => second.set(book(7)));
  await step('set 8 through it', () => second.set(book(8)));
  const third = session.topicUpdate.newUpdateStreamBuilder().build(path, json);
  await step('validate a third stream', () => third.validate());
  await step('second after a third was created', () => second.set(book(9)));
  const missing = session.topicUpdate.newUpdateStreamBuilder().build(`${root}/missing`, string);
  await step('stream on a missing topic', () => missing.set('x'));
  const text = session.topicUpdate.newUpdateStreamBuilder()
    .specification(new TopicSpecification(TopicType.STRING))
    .build(`${root}/text`, string);
  await step('string stream adds its topic', () => text.set('hello'));
  await step('string stream sets again', () => text.set('hello world'));
  await step('remove', async () => `removed ${(await session.topics.remove(`?${root}//`)).removedCount}`);
  await step('stream after removal', () => third.set(book(10)));
  await session.close();
  process.stdout.write(JSON.stringify({ steps }) + '\n');
})().catch((error) => {
  process.stderr.write(`update streams failed: ${error && error.stack ? error.stack : JSON.stringify(error)}\n`);
  process.exit(1);
});
