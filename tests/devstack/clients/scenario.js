// The client scenario (tests/devstack/client_scenario.py) driven by the official JavaScript client.
// Usage: node scenario.js <diffusion module dir> <host> <port> <topic root>
// Prints the transcript as one JSON object on stdout; the Python test compares it with the one
// every client must produce.
'use strict';
const [moduleDir, host, port, root] = process.argv.slice(2);
const diffusion = require(moduleDir);
diffusion.log('silent');

const json = diffusion.datatypes.json();
const string = diffusion.datatypes.string();
const { TopicType, TopicSpecification } = diffusion.topics;
const steps = [];
const values = {};
const unsubscribed = {};
const relative = (path) => path.slice(root.length + 1);
const record = (path, value) => (values[relative(path)] = values[relative(path)] || []).push(value);
const failure = (error) => (error && error.id !== undefined ? error.id : String(error));
const options = (credentials) => ({ host, port: Number(port), secure: false, principal: 'admin', credentials });

async function step(name, action) {
  try {
    steps.push({ step: name, result: await action() });
  } catch (error) {
    steps.push({ step: name, error: failure(error) });
  }
}

async function waitFor(condition) {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
}

(async () => {
  await step('connect with a wrong password', async () => {
    const refused = await diffusion.connect(options('wrong')).then((s) => s.close() && false, () => true);
    return refused ? 'refused' : 'accepted';
  });
  const session = await diffusion.connect(options('password'));

  const jsonStream = session.addStream(`?${root}/json/.*`, json);
  jsonStream.on('value', (path, spec, value) => record(path, value.get()));
  jsonStream.on('unsubscribe', (path, spec, reason) => (unsubscribed[relative(path)] = reason.id));
  const textStream = session.addStream(`>${root}/text`, string);
  textStream.on('value', (path, spec, value) => record(path, value));
  textStream.on('unsubscribe', (path, spec, reason) => (unsubscribed[relative(path)] = reason.id));
  await session.select(`?${root}//`);

  const added = (result) => (result.added ? 'created' : 'exists');
  await step('add json/a', async () => added(await session.topics.add(`${root}/json/a`, TopicType.JSON)));
  await step('add json/a again', async () => added(await session.topics.add(`${root}/json/a`, TopicType.JSON)));
  await step('set json/a', async () => (await session.topicUpdate.set(`${root}/json/a`, json, { px: 1 }), 'ok'));
  await step('add and set json/b', async () => {
    const spec = new TopicSpecification(TopicType.JSON);
    const result = await session.topicUpdate.set(`${root}/json/b`, json, { px: 2 }, { specification: spec });
    return result === diffusion.topicUpdate.TopicCreationResult.CREATED ? 'created' : 'exists';
  });
  await step('add text', async () => added(await session.topics.add(`${root}/text`, TopicType.STRING)));
  await step('update stream on text', async () => {
    const stream = session.topicUpdate.newUpdateStreamBuilder().build(`${root}/text`, string);
    for (const value of ['a', 'b', 'c']) await stream.set(value);
    return 'ok';
  });
  await step('set json/a with a string', async () => (await session.topicUpdate.set(`${root}/json/a`, string, 'x'), 'ok'));
  await step('set a missing topic', async () => (await session.topicUpdate.set(`${root}/missing`, json, {}), 'ok'));
  await waitFor(() => (values.text || []).length >= 3);
  await step('unsubscribe text', async () => (await session.unsubscribe(`>${root}/text`), 'ok'));
  await waitFor(() => unsubscribed.text !== undefined);
  await step('set text after unsubscribing', async () => (await session.topicUpdate.set(`${root}/text`, string, 'd'), 'ok'));
  await step('remove all', async () => (await session.topics.remove(`?${root}//`)).removedCount);
  await waitFor(() => Object.keys(unsubscribed).length >= 3);
  await session.close();
  process.stdout.write(JSON.stringify({ steps, values, unsubscribed }) + '\n');
})().catch((error) => {
  process.stderr.write(`scenario failed: ${error && error.stack ? error.stack : JSON.stringify(error)}\n`);
  process.exit(1);
});
