package explorer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

const (
	// browserChromium is Debian's Chromium. The test never downloads a browser.
	browserChromium = "/usr/bin/chromium"
	// browserTestTimeout bounds everything the test does in the browser.
	browserTestTimeout = 90 * time.Second
	// browserStepTimeout bounds one wait or one action, so that a failure
	// leaves time for a screenshot within browserTestTimeout.
	browserStepTimeout = 20 * time.Second
)

// TestBrowserExplorer drives the explorer's web page in headless Chromium
// against a real node and indexer: the live home page, a transfer appearing
// in the latest transactions, the transaction, block and address pages reached
// by clicking links, the search box, and the validators page. It fails on any
// uncaught JavaScript exception and on a visible error banner, and leaves a
// full-page screenshot in the artifacts directory.
func TestBrowserExplorer(t *testing.T) {
	if _, err := os.Stat(browserChromium); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no Chromium at %s (apt-get install chromium): %v", browserChromium, err)
		}
		t.Fatalf("no Chromium at %s (apt-get install chromium): %v", browserChromium, err)
	}

	stack := newTestStack(t)

	b := startExplorerBrowser(t)
	b.do("open the home page", chromedp.Navigate(stack.URL+"/"))

	b.waitFor("home page statistics and latest blocks",
		`(() => {
			const h = document.querySelector('#stat-height');
			return !!h && /^[0-9][0-9,]*$/.test(h.textContent.trim()) &&
				document.querySelectorAll('#latest-blocks tbody tr[data-height]').length > 0;
		})()`)

	hash, height, from, to := stack.Transfer(t)
	t.Logf("transfer %s in block %d from %s to %s", hash, height, from, to)

	// The home page polls every second: the transfer shows up without a reload.
	txRow := fmt.Sprintf(`#latest-txs tr[data-hash=%s]`, browserJSString(hash))
	b.waitFor("the transfer in the latest transactions",
		fmt.Sprintf(`document.querySelector(%s) !== null`, browserJSString(txRow)))
	b.do("click the transfer in the latest transactions", chromedp.Click(chromedp.CSS(txRow+" a.tx-link")))

	txDetail := fmt.Sprintf(`#tx-detail[data-hash=%s]`, browserJSString(hash))
	b.waitFor("the transaction page", browserPresent(txDetail))
	b.expectText(txDetail+` [data-field="from"]`, from)
	b.expectText(txDetail+` [data-field="to"]`, to)
	b.expectText(txDetail+` [data-field="block"] a.block-link`, strconv.FormatUint(height, 10))
	b.screenshot("explorer-tx.png")

	blockDetail := fmt.Sprintf(`#block-detail[data-height="%d"]`, height)
	b.do("click the block link on the transaction page",
		chromedp.Click(chromedp.CSS(txDetail+` [data-field="block"] a.block-link`)))
	b.waitFor("the block page of the transfer", browserPresent(blockDetail))
	b.waitFor("the transfer in the block's transactions",
		browserPresent(fmt.Sprintf(`%s #block-txs tr[data-hash=%s]`, blockDetail, browserJSString(hash))))

	// Back to the transaction page with the browser's history, then follow
	// the sender.
	b.do("go back to the transaction page", chromedp.Evaluate[chromedp.Void](`history.back()`))
	b.waitFor("the transaction page again", browserPresent(txDetail))
	b.do("click the sender on the transaction page",
		chromedp.Click(chromedp.CSS(txDetail+` [data-field="from"] a.addr-link`)))
	addressDetail := fmt.Sprintf(`#address-detail[data-address=%s]`, browserJSString(strings.ToLower(from)))
	b.waitFor("the sender's address page", browserPresent(addressDetail))
	b.waitFor("the transfer on the sender's page",
		browserPresent(fmt.Sprintf(`%s #address-txs tr[data-hash=%s]`, addressDetail, browserJSString(hash))))
	sent := b.text(addressDetail + ` #address-sent`)
	if n, err := strconv.Atoi(strings.ReplaceAll(sent, ",", "")); err != nil || n < 1 {
		b.fail("the sender's page shows %q transactions sent, want at least 1", sent)
	}

	// The search box takes a block height to the block page.
	b.do("search for the block height",
		chromedp.SendKeys(chromedp.ID("search"), strconv.FormatUint(height, 10)+"\n"))
	b.waitFor("the block page from the search", browserPresent(blockDetail))

	b.do("open the validators page from the nav", chromedp.Click(chromedp.CSS(`#nav a[href="#/validators"]`)))
	b.waitFor("leaderboard and validator rows",
		`document.querySelectorAll('#leaderboard tbody tr[data-id]').length > 0 &&
			document.querySelectorAll('#validators tbody tr[data-id]').length > 0`)
	b.screenshot("explorer-validators.png")

	b.do("go home from the nav", chromedp.Click(chromedp.CSS(`#nav a[href="#/"]`)))
	b.waitFor("the home page again", `document.querySelectorAll('#latest-blocks tbody tr[data-height]').length > 0`)

	if msgs := b.exceptions(); len(msgs) > 0 {
		b.fail("the page threw %d uncaught exception(s):\n%s", len(msgs), strings.Join(msgs, "\n"))
	}
	banner, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](
		`(() => { const e = document.getElementById('error-banner');
			return !e ? 'missing' : (e.hidden && getComputedStyle(e).display === 'none') ? '' : e.textContent.trim(); })()`))
	if err != nil {
		b.fail("read the error banner: %v", err)
	}
	if banner != "" {
		b.fail("the error banner is visible or missing: %q", banner)
	}

	t.Logf("screenshot: %s", b.screenshot("explorer.png"))
}

// explorerBrowser is one headless Chromium with one tab, for one test.
type explorerBrowser struct {
	t   *testing.T
	ctx context.Context // the tab, bounded by browserTestTimeout

	// tab is the tab's context without the test's deadline, for the
	// screenshot of a failure after the deadline.
	tab context.Context

	mu     sync.Mutex
	thrown []string
	output strings.Builder
}

func startExplorerBrowser(t *testing.T) *explorerBrowser {
	t.Helper()
	b := &explorerBrowser{t: t}

	// Only these flags: none of chromedp's defaults. Without a user-data-dir
	// flag chromedp gives the browser a fresh temporary profile directory and
	// removes it when the browser exits.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browserChromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(browserWriter{b}),
	)
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(func(ev any) {
		// Runs in the tab's event loop: record and return.
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			b.mu.Lock()
			b.thrown = append(b.thrown, browserExceptionText(e.ExceptionDetails))
			b.mu.Unlock()
		}
	}))
	ctx, cancelTest := context.WithTimeout(tab, browserTestTimeout)
	t.Cleanup(func() {
		cancelTest()
		cancelTab()
		cancelAlloc()
	})
	b.tab, b.ctx = tab, ctx

	// The first action starts the browser; its life is bound to the tab's
	// context, which the cleanup cancels.
	start, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(tab) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start Chromium: %v\n%s", err, b.chromiumOutput())
		}
	case <-start.Done():
		t.Fatalf("Chromium did not start within 30 s\n%s", b.chromiumOutput())
	}
	return b
}

// do runs one action with a step deadline and fails the test if it fails.
func (b *explorerBrowser) do(what string, action chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, action); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// waitFor polls the JavaScript expression in the page every 100 ms until it
// is true, and fails the test if that takes longer than the step deadline.
func (b *explorerBrowser) waitFor(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(browserStepTimeout)))
	if err != nil {
		b.fail("wait for %s: %v", what, err)
	}
}

// text returns the trimmed text content of the first element that matches
// the CSS selector.
func (b *explorerBrowser) text(selector string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`(() => { const e = document.querySelector(%s); return e ? e.textContent.trim() : '<missing>'; })()`,
		browserJSString(selector))))
	if err != nil {
		b.fail("read %s: %v", selector, err)
	}
	return s
}

// expectText fails the test unless the element's text contains want,
// ignoring case (addresses and hashes may be shown in either case).
func (b *explorerBrowser) expectText(selector, want string) {
	b.t.Helper()
	got := b.text(selector)
	if !strings.Contains(strings.ToLower(strings.ReplaceAll(got, ",", "")), strings.ToLower(want)) {
		b.fail("%s shows %q, want it to contain %q", selector, got, want)
	}
}

func (b *explorerBrowser) exceptions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.thrown...)
}

// fail records what the page looked like and stops the test.
func (b *explorerBrowser) fail(format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(b.tab, 10*time.Second)
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`location.href + ' | error banner: ' + (document.getElementById('error-banner')?.hidden === false
			? document.getElementById('error-text')?.textContent : '(hidden)')`))
	cancel()
	if err == nil {
		msg += "\npage: " + strings.Join(strings.Fields(state), " ")
	}
	if ex := b.exceptions(); len(ex) > 0 {
		msg += "\nuncaught exceptions:\n" + strings.Join(ex, "\n")
	}
	if out := b.chromiumOutput(); out != "" {
		msg += "\nChromium output (end):\n" + out
	}
	if path := b.screenshot("explorer-failure.png"); path != "" {
		msg += "\nscreenshot: " + path
	}
	b.t.Fatal(msg)
}

// screenshot writes a full-page PNG of the tab to the artifacts directory
// and returns its path, or "" (after logging why) if it could not.
func (b *explorerBrowser) screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	dir := browserArtifactsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return path
}

// chromiumOutput returns the last lines that Chromium printed, without its
// complaints about the missing D-Bus, which say nothing about the page.
func (b *explorerBrowser) chromiumOutput() string {
	b.mu.Lock()
	out := b.output.String()
	b.mu.Unlock()
	var kept []string
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) != "" && !strings.Contains(line, "dbus") {
			kept = append(kept, line)
		}
	}
	out = strings.Join(kept, "\n")
	if len(out) > 4000 {
		out = "…" + out[len(out)-4000:]
	}
	return out
}

// browserWriter collects Chromium's stdout and stderr.
type browserWriter struct{ b *explorerBrowser }

func (w browserWriter) Write(p []byte) (int, error) {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	if w.b.output.Len() < 1<<20 {
		w.b.output.Write(p)
	}
	return len(p), nil
}

// browserArtifactsDir is $BIZRA_ARTIFACTS, or test-artifacts at the module
// root (the test runs in the package directory, one level below it).
func browserArtifactsDir() string {
	if dir := os.Getenv("BIZRA_ARTIFACTS"); dir != "" {
		return dir
	}
	return filepath.Join("..", "test-artifacts")
}

func browserExceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "exception without details"
	}
	text := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		text += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, text)
}

// browserPresent is a JavaScript expression that is true when an element
// matches the CSS selector.
func browserPresent(selector string) string {
	return fmt.Sprintf(`document.querySelector(%s) !== null`, browserJSString(selector))
}

// browserJSString quotes s as a JavaScript (and CSS) string literal.
func browserJSString(s string) string {
	q, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(q)
}
