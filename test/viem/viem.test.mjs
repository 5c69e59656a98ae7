// End-to-end test of a running BIZRA devnet with viem, unmodified. The Go
// test cmd/bizra TestViemEndToEnd starts the devnet and runs this file with
// BIZRA_RPC (http://host:port) and BIZRA_KEY (a funded dev key).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  webSocket,
  parseEther,
  parseGwei,
} from "viem";
import { privateKeyToAccount, generatePrivateKey } from "viem/accounts";

const url = process.env.BIZRA_RPC;
const key = process.env.BIZRA_KEY;
const chainId = Number(process.env.BIZRA_CHAIN_ID ?? "1337");
if (!url || !key) {
  throw new Error("set BIZRA_RPC and BIZRA_KEY (run through the Go test)");
}

const chain = defineChain({
  id: chainId,
  name: "BIZRA devnet",
  nativeCurrency: { name: "BIZRA", symbol: "BZR", decimals: 18 },
  rpcUrls: { default: { http: [url], webSocket: [url.replace(/^http/, "ws")] } },
});
const client = createPublicClient({ chain, transport: http(url), pollingInterval: 100 });
const account = privateKeyToAccount(key);
const wallet = createWalletClient({ account, chain, transport: http(url) });
const recipient = privateKeyToAccount(generatePrivateKey()).address;

test("chain id and a funded balance", async () => {
  assert.equal(await client.getChainId(), chainId);
  const bal = await client.getBalance({ address: account.address });
  assert.ok(bal > parseEther("1000"), `balance ${bal}`);
});

test("an EIP-1559 transfer: receipt, nonce, balances and block", async () => {
  const before = await client.getBalance({ address: account.address });
  const nonce = await client.getTransactionCount({ address: account.address });
  const value = parseEther("0.25");
  const gas = await client.estimateGas({ account: account.address, to: recipient, value });
  assert.equal(gas, 21000n);
  const hash = await wallet.sendTransaction({ to: recipient, value });
  const receipt = await client.waitForTransactionReceipt({ hash, timeout: 30_000 });
  assert.equal(receipt.status, "success");
  assert.equal(receipt.from.toLowerCase(), account.address.toLowerCase());
  assert.equal(receipt.to.toLowerCase(), recipient.toLowerCase());
  assert.equal(receipt.gasUsed, 21000n);

  assert.equal(await client.getTransactionCount({ address: account.address }), nonce + 1);
  assert.equal(await client.getBalance({ address: recipient }), value);
  const fee = receipt.gasUsed * receipt.effectiveGasPrice;
  assert.equal(await client.getBalance({ address: account.address }), before - value - fee);

  const tx = await client.getTransaction({ hash });
  assert.equal(tx.type, "eip1559");
  assert.equal(tx.blockNumber, receipt.blockNumber);
  const block = await client.getBlock({ blockNumber: receipt.blockNumber, includeTransactions: true });
  assert.equal(block.hash, receipt.blockHash);
  assert.ok(block.transactions.some((t) => t.hash === hash));
});

test("a legacy transfer with an explicit gas price", async () => {
  const hash = await wallet.sendTransaction({ to: recipient, value: 1n, gasPrice: parseGwei("5"), type: "legacy" });
  const receipt = await client.waitForTransactionReceipt({ hash, timeout: 30_000 });
  assert.equal(receipt.status, "success");
  assert.equal(receipt.type, "legacy");
});

test("a nonce too low is refused as viem reports it", async () => {
  const nonce = await client.getTransactionCount({ address: account.address });
  await assert.rejects(
    wallet.sendTransaction({ to: recipient, value: 1n, nonce: nonce - 1 }),
    (err) => /nonce/i.test(err.shortMessage ?? err.message),
  );
});

test("new blocks over WebSocket", async () => {
  const ws = createPublicClient({ chain, transport: webSocket(url.replace(/^http/, "ws")) });
  const seen = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no block within 10 s")), 10_000);
    const unwatch = ws.watchBlocks({
      onBlock: (b) => {
        clearTimeout(timer);
        unwatch();
        resolve(b);
      },
      onError: reject,
    });
  });
  assert.ok(seen.number > 0n);
  await ws.transport.getRpcClient?.().then((c) => c.close?.());
});
