// End-to-end test of a running BIZRA devnet with ethers v6, unmodified.
// The Go test cmd/bizra TestEthersEndToEnd starts the devnet and runs this
// file with BIZRA_RPC (http://host:port) and BIZRA_KEY (a funded dev key).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ethers } from "ethers";

const url = process.env.BIZRA_RPC;
const key = process.env.BIZRA_KEY;
const chainId = BigInt(process.env.BIZRA_CHAIN_ID ?? "1337");
if (!url || !key) {
  throw new Error("set BIZRA_RPC and BIZRA_KEY (run through the Go test)");
}

// cacheTimeout -1: ethers otherwise answers a request repeated within 250 ms
// from its cache, so a nonce read before a transfer that is mined that fast
// would be read again, stale, after it.
const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
const wallet = new ethers.Wallet(key, provider);
const recipient = ethers.Wallet.createRandom().address;

test("chain id and network", async () => {
  const net = await provider.getNetwork();
  assert.equal(net.chainId, chainId);
  assert.equal(await provider.send("net_version", []), chainId.toString());
});

test("a funded dev account has a balance", async () => {
  const bal = await provider.getBalance(wallet.address);
  assert.ok(bal > ethers.parseEther("1000"), `balance ${bal}`);
});

test("a signed transfer is mined and its receipt, nonce and balances agree", async () => {
  const before = await provider.getBalance(wallet.address);
  const nonce = await provider.getTransactionCount(wallet.address);
  const value = ethers.parseEther("1.5");
  const sent = await wallet.sendTransaction({ to: recipient, value });
  assert.equal(sent.nonce, nonce);
  const receipt = await sent.wait(1, 30_000);
  assert.equal(receipt.status, 1);
  assert.equal(receipt.to, recipient);
  assert.equal(receipt.from, wallet.address);
  assert.equal(receipt.gasUsed, 21000n);
  assert.ok(receipt.blockNumber > 0);

  assert.equal(await provider.getTransactionCount(wallet.address), nonce + 1);
  assert.equal(await provider.getBalance(recipient), value);
  const fee = receipt.gasUsed * receipt.gasPrice;
  assert.equal(await provider.getBalance(wallet.address), before - value - fee);

  const tx = await provider.getTransaction(sent.hash);
  assert.equal(tx.hash, sent.hash);
  assert.equal(tx.blockNumber, receipt.blockNumber);

  // The block, by number and by hash, holds the transaction.
  const byNumber = await provider.getBlock(receipt.blockNumber);
  assert.equal(byNumber.hash, receipt.blockHash);
  assert.ok(byNumber.transactions.includes(sent.hash));
  const byHash = await provider.getBlock(receipt.blockHash, true);
  assert.equal(byHash.number, receipt.blockNumber);
  assert.ok(byHash.prefetchedTransactions.some((t) => t.hash === sent.hash && t.from === wallet.address));
  assert.equal(byHash.baseFeePerGas, (await provider.getFeeData()).gasPrice - ethers.parseUnits("1", "gwei"));
});

test("a reused nonce is reported as ethers reports nonce too low", async () => {
  const nonce = await provider.getTransactionCount(wallet.address);
  assert.ok(nonce > 0);
  await assert.rejects(
    wallet.sendTransaction({ to: recipient, value: 1n, nonce: nonce - 1 }),
    (err) => {
      assert.equal(err.code, "NONCE_EXPIRED", `${err.code}: ${err.message}`);
      return true;
    },
  );
});

test("an unaffordable transfer is reported as insufficient funds", async () => {
  const poor = ethers.Wallet.createRandom().connect(provider);
  await assert.rejects(
    poor.sendTransaction({ to: recipient, value: 1n, gasLimit: 21000n }),
    (err) => {
      assert.equal(err.code, "INSUFFICIENT_FUNDS", `${err.code}: ${err.message}`);
      return true;
    },
  );
});

test("a newHeads subscription sees new blocks", async () => {
  const ws = new ethers.WebSocketProvider(url.replace(/^http/, "ws"), undefined, { staticNetwork: true });
  try {
    const seen = [];
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`saw ${seen.length} blocks in 20 s`)), 20_000);
      ws.on("block", (n) => {
        seen.push(n);
        if (seen.length >= 2) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    assert.ok(seen[1] > seen[0], `blocks ${seen}`);
  } finally {
    await ws.destroy();
  }
});
