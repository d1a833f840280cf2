// A client of the seed platform, built from the seed's own protos (./protos) with
// @grpc/grpc-js and @grpc/proto-loader (not grpcio), plus the seed's REST routes through
// plain HTTP. It drives both services the way the seed's clients do and checks what they
// rely on (and server reflection v1, from ./reflection_v1.proto); any difference fails with a
// message. On success it prints one JSON report line.
//
//   AUTH_GRPC=127.0.0.1:8080 CHAT_GRPC=127.0.0.1:8082 AUTH_URL=http://127.0.0.1:8081 \
//   CHAT_URL=http://127.0.0.1:8083 NODE_PATH=<node_modules> node testkit/seed/client.cjs
"use strict";

const assert = require("node:assert/strict");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const AUTH_GRPC = env("AUTH_GRPC");
const CHAT_GRPC = env("CHAT_GRPC");
const AUTH_URL = env("AUTH_URL");
const CHAT_URL = env("CHAT_URL");
const DEADLINE_MS = 15000;

function load(file) {
  const definition = protoLoader.loadSync(path.join(__dirname, file), {
    keepCase: true, // field names as in the .proto (snake_case), as the seed's clients see them
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition);
}

const authPkg = load("protos/auth.proto").auth;
const chatPkg = load("protos/chat.proto").chat;
const healthPkg = load("protos/health.proto").auth.service.health.v1;
const reflectionPkg = load("reflection_v1.proto").grpc.reflection.v1;
const insecure = grpc.credentials.createInsecure();
const auth = new authPkg.AuthService(AUTH_GRPC, insecure);
const chat = new chatPkg.ChatService(CHAT_GRPC, insecure);
const authHealth = new healthPkg.Health(AUTH_GRPC, insecure);
const chatHealth = new healthPkg.Health(CHAT_GRPC, insecure);

function bearer(token) {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

function unary(client, method, request, metadata = new grpc.Metadata()) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + DEADLINE_MS }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

async function grpcCode(promise) {
  try {
    await promise;
    return "OK";
  } catch (error) {
    return grpc.status[error.code];
  }
}

// Reads a server stream to its end, as a seed client does; fails if it does not end in time.
function readToEnd(call) {
  return new Promise((resolve, reject) => {
    const frames = [];
    call.on("data", (frame) => frames.push(frame));
    call.on("error", reject);
    call.on("end", () => resolve(frames));
  });
}

async function http(method, url, { body, token } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(DEADLINE_MS),
  });
  const text = await response.text();
  return { status: response.status, type: response.headers.get("content-type") || "", text };
}

const json = (answer) => JSON.parse(answer.text);
const isTimestamp = (value) => value !== null && typeof value === "object" && Number(value.seconds) > 0;
const SEED_MESSAGE_FIELDS = ["id", "user_id", "content", "role", "created_at", "updated_at"];

async function main() {
  const report = {};
  const email = `seed-${process.pid}-${Date.now()}@example.com`;
  const password = "Tr0ub4dor&3-horse";

  // --- health, both services, both protocols ---------------------------------------------
  for (const [name, client] of [["auth", authHealth], ["chat", chatHealth]]) {
    const health = await unary(client, "Check", { service: "" });
    assert.equal(health.status, "SERVING", `${name} gRPC health`);
  }
  for (const base of [AUTH_URL, CHAT_URL]) {
    for (const route of ["/health", "/v1/health"]) {
      const answer = await http("GET", base + route);
      assert.equal(answer.status, 200, `${base}${route}: ${answer.text}`);
      assert.equal(json(answer).status, "SERVING", `${base}${route}`);
    }
  }

  // --- server reflection v1 (what grpcurl asks first), both services ----------------------
  for (const [target, expected] of [[AUTH_GRPC, "auth.AuthService"], [CHAT_GRPC, "chat.ChatService"]]) {
    const client = new reflectionPkg.ServerReflection(target, insecure);
    const call = client.ServerReflectionInfo({ deadline: Date.now() + DEADLINE_MS });
    const answers = readToEnd(call);
    call.write({ list_services: "" });
    call.end();
    const [listed] = await answers;
    const names = listed.list_services_response.service.map((s) => s.name);
    for (const name of [expected, "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]) {
      assert.ok(names.includes(name), `${target} reflection v1 lists ${name}: ${names}`);
    }
    client.close();
  }

  // --- auth over gRPC ------------------------------------------------------------------------
  const signedUp = await unary(auth, "SignUp", { name: "Seed", email, password });
  assert.equal(signedUp.user.email, email);
  assert.ok(isTimestamp(signedUp.user.created_at), "user.created_at");
  assert.ok(signedUp.tokens.access_token && signedUp.tokens.refresh_token, "SignUp tokens");
  assert.ok(isTimestamp(signedUp.tokens.access_expires_at), "tokens.access_expires_at");
  const signedIn = await unary(auth, "SignIn", { email, password });
  assert.equal(signedIn.user.id, signedUp.user.id);
  const { access_token: access, refresh_token: refresh } = signedIn.tokens;
  const validated = await unary(auth, "ValidateToken", { token: access });
  assert.deepEqual([validated.valid, validated.user_id], [true, signedUp.user.id]);
  assert.equal(await grpcCode(unary(auth, "SignIn", { email, password: "wrong password" })), "UNAUTHENTICATED");
  const md = bearer(access);

  // --- chat over gRPC ------------------------------------------------------------------------
  const conversation = await unary(chat, "CreateConversation", { title: "from the seed" }, md);
  assert.ok(conversation.id && conversation.title === "from the seed" && isTimestamp(conversation.created_at));
  const sent = await unary(chat, "SendMessage", { message: "hello", conversation_id: conversation.id }, md);
  assert.deepEqual(
    [sent.message.content, sent.message.role, sent.conversation_id, sent.is_ai_response],
    ["hello", "user", conversation.id, false],
  );
  const listed = await unary(chat, "ListConversations", { limit: 10, offset: 0 }, md);
  assert.ok(listed.total >= 1 && listed.conversations.some((c) => c.id === conversation.id), "ListConversations");
  const history = await unary(chat, "GetHistory", { conversation_id: conversation.id, limit: 10 }, md);
  assert.deepEqual([history.total, history.conversation_id], [1, conversation.id]);
  assert.equal(history.messages[0].content, "hello");
  const ai = await unary(chat, "ChatWithAI", { message: "ping", conversation_id: conversation.id, max_tokens: 3 }, md);
  assert.ok(ai.ai_message.length > 0 && ai.model_used && ai.tokens_used > 0, JSON.stringify(ai));
  assert.equal(ai.conversation_id, conversation.id);
  assert.ok(isTimestamp(ai.created_at), "ai.created_at");

  // StreamMessages, read to the end: the stored messages, then is_end, then the stream ends.
  const frames = await readToEnd(chat.StreamMessages({ conversation_id: conversation.id }, md, {
    deadline: Date.now() + DEADLINE_MS,
  }));
  const stored = frames.slice(0, -1);
  assert.deepEqual(
    stored.map((f) => [f.message.role, f.message.content, f.is_end]),
    [["user", "hello", false], ["user", "ping", false], ["assistant", ai.ai_message, false]],
  );
  assert.equal(frames.at(-1).is_end, true, "the last frame is is_end");
  assert.equal(frames.at(-1).message, null, "the is_end frame carries no message");
  report.stream_frames = frames.length;

  // Status codes a seed client acts on.
  const codes = {
    malformed: await grpcCode(unary(chat, "GetHistory", { conversation_id: "not-a-uuid" }, md)),
    unknown: await grpcCode(
      unary(chat, "GetHistory", { conversation_id: "00000000-0000-4000-8000-000000000000" }, md),
    ),
    stream_malformed: await grpcCode(readToEnd(chat.StreamMessages({ conversation_id: "nope" }, md))),
    no_token: await grpcCode(unary(chat, "ListConversations", {})),
  };
  assert.deepEqual(codes, {
    malformed: "INVALID_ARGUMENT",
    unknown: "NOT_FOUND",
    stream_malformed: "INVALID_ARGUMENT",
    no_token: "UNAUTHENTICATED",
  });
  report.grpc_codes = codes;

  // --- the seed's REST shapes --------------------------------------------------------------
  const restEmail = `rest-${email}`;
  let answer = await http("POST", `${AUTH_URL}/v1/auth/signup`, { body: { name: "Rest", email: restEmail, password } });
  assert.equal(answer.status, 201, answer.text);
  assert.deepEqual(Object.keys(json(answer)).sort(), ["tokens", "user"]);
  answer = await http("POST", `${AUTH_URL}/v1/auth/signin`, { body: { email: restEmail, password } });
  assert.equal(answer.status, 200, answer.text);
  const restTokens = json(answer).tokens;
  assert.equal(restTokens.token_type, "Bearer");
  answer = await http("POST", `${AUTH_URL}/v1/auth/validate`, { body: { token: restTokens.access_token } });
  assert.equal(json(answer).valid, true);
  const rest = restTokens.access_token;

  answer = await http("POST", `${CHAT_URL}/v1/chat/message`, { token: rest, body: { message: "over rest" } });
  assert.equal(answer.status, 200, answer.text);
  const restSent = json(answer);
  assert.equal(restSent.is_ai_response, false);
  assert.equal(restSent.message.content, "over rest");
  answer = await http("GET", `${CHAT_URL}/v1/chat/history/${restSent.conversation_id}?limit=10`, { token: rest });
  assert.equal(answer.status, 200, answer.text);
  assert.deepEqual(Object.keys(json(answer).messages[0]).sort(), [...SEED_MESSAGE_FIELDS].sort());

  // The REST route of StreamMessages: newline-delimited {"result": ...}, ending after is_end.
  answer = await http("GET", `${CHAT_URL}/v1/chat/stream/${restSent.conversation_id}`, { token: rest });
  assert.equal(answer.status, 200, answer.text);
  assert.ok(answer.type.startsWith("application/json"), answer.type);
  assert.ok(answer.text.endsWith("\n"), "each frame ends with a newline");
  const lines = answer.text.trimEnd().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((line) => Object.keys(line)), [["result"], ["result"]]);
  const [first, end] = lines.map((line) => line.result);
  assert.deepEqual([first.message.content, first.message.role, first.is_end], ["over rest", "user", false]);
  for (const field of SEED_MESSAGE_FIELDS) assert.ok(field in first.message, `stream message has ${field}`);
  assert.match(first.message.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.deepEqual([end.message, end.is_end], [null, true]);
  report.rest_stream_lines = lines.length;

  const restCodes = {
    stream_malformed: (await http("GET", `${CHAT_URL}/v1/chat/stream/not-a-uuid`, { token: rest })).status,
    history_malformed: (await http("GET", `${CHAT_URL}/v1/chat/history/not-a-uuid`, { token: rest })).status,
    history_of_another_user: (await http("GET", `${CHAT_URL}/v1/chat/history/${conversation.id}`, { token: rest }))
      .status,
    refresh_without_token: (await http("POST", `${AUTH_URL}/v1/auth/refresh`, { body: {} })).status,
    revoke_without_token: (await http("POST", `${AUTH_URL}/v1/auth/revoke`, { body: {} })).status,
  };
  assert.deepEqual(restCodes, {
    stream_malformed: 400,
    history_malformed: 400,
    history_of_another_user: 404,
    refresh_without_token: 401,
    revoke_without_token: 401,
  });
  report.rest_codes = restCodes;

  answer = await http("POST", `${CHAT_URL}/v1/chat/ai`, { token: rest, body: { message: "hi", max_tokens: 2 } });
  assert.equal(answer.status, 200, answer.text);
  assert.deepEqual(Object.keys(json(answer)).sort(), [
    "ai_message", "conversation_id", "created_at", "model_used", "tokens_used",
  ]);
  // Sign-out and revoke answer the seed's Empty: {}.
  answer = await http("POST", `${AUTH_URL}/v1/auth/revoke`, { body: { access_token: rest } });
  assert.deepEqual([answer.status, json(answer)], [200, {}]);
  answer = await http("POST", `${AUTH_URL}/v1/auth/signin`, { body: { email: restEmail, password } });
  answer = await http("POST", `${AUTH_URL}/v1/auth/signout`, { token: json(answer).tokens.access_token, body: {} });
  assert.deepEqual([answer.status, json(answer)], [200, {}]);

  // --- token lifecycle over gRPC -------------------------------------------------------------
  const refreshed = await unary(auth, "RefreshToken", { refresh_token: refresh });
  assert.ok(refreshed.tokens.access_token && refreshed.tokens.refresh_token !== refresh, "RefreshToken rotates");
  const other = await unary(auth, "SignIn", { email, password });
  await unary(auth, "RevokeToken", { access_token: other.tokens.access_token });
  assert.equal((await unary(auth, "ValidateToken", { token: other.tokens.access_token })).valid, false);
  await unary(auth, "SignOut", { access_token: refreshed.tokens.access_token });
  assert.equal((await unary(auth, "ValidateToken", { token: refreshed.tokens.access_token })).valid, false);
  // The chat service learns of the sign-out without a call per request (within a second or so).
  const until = Date.now() + 5000;
  let signedOut = "OK";
  while (signedOut === "OK" && Date.now() < until) {
    signedOut = await grpcCode(unary(chat, "ListConversations", {}, bearer(refreshed.tokens.access_token)));
    if (signedOut === "OK") await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(signedOut, "UNAUTHENTICATED", "a signed-out token is refused by the chat service");

  report.ok = true;
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main()
  .then(() => {
    auth.close();
    chat.close();
    authHealth.close();
    chatHealth.close();
  })
  .catch((error) => {
    process.stderr.write(`seed client failed: ${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  });
