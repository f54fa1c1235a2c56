/**
 * Go programs the tests build from source with the machine's Go toolchain (Debian's golang-go), as a user's Go
 * service would be built: with its symbol table, or stripped with `-ldflags "-s -w"`. Standard library only, so a
 * build needs no module download.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Where `go build` keeps compiled packages between test files: later builds take a second or two. */
const GO_BUILD_CACHE = path.join(os.tmpdir(), 'sightline-go-build-cache');

export interface GoBuild {
  stripped?: boolean;
}

/** The version line of the Go toolchain, or a thrown error that says how to install it. */
export function goToolchainVersion(): string {
  try {
    return execFileSync('go', ['version'], { encoding: 'utf8', env: goEnvironment(os.tmpdir()) }).trim();
  } catch (error) {
    throw new Error(`the Go toolchain is missing (${(error as Error).message}): run bpf/install-build-deps.sh (Debian's golang-go)`);
  }
}

/** Builds `source` (one main package) into `dir/name` and returns the executable's path. */
export function buildGoProgram(dir: string, name: string, source: string, build: GoBuild = {}): string {
  const moduleDir = path.join(dir, `${name}-src`);
  fs.mkdirSync(moduleDir, { recursive: true });
  fs.writeFileSync(path.join(moduleDir, 'go.mod'), `module sightline.test/${name}\n\ngo 1.19\n`);
  fs.writeFileSync(path.join(moduleDir, 'main.go'), source);
  const output = path.join(dir, name);
  const args = ['build', '-o', output, ...(build.stripped ? ['-ldflags', '-s -w'] : []), '.'];
  try {
    execFileSync('go', args, { cwd: moduleDir, env: goEnvironment(dir), stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`go build of ${name} failed: ${stderr || (error as Error).message}`);
  }
  return output;
}

function goEnvironment(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOCACHE: GO_BUILD_CACHE,
    GOPATH: path.join(dir, 'gopath'),
    GOPROXY: 'off',
    GOFLAGS: '-mod=mod',
    // A static executable, as Go services usually ship in containers.
    CGO_ENABLED: '0',
  };
}

/**
 * An HTTP/1.1 client on crypto/tls directly: requests of the given body sizes, one after the other on one
 * connection, each response read into a buffer on the reading goroutine's stack. Before each read the goroutine
 * grows its stack by deep recursion and returns, and while it is parked in Read the program runs the garbage
 * collector, which shrinks (so moves) the stack: what the sensor captures must still be the bytes that arrived.
 * Prints `ready` and waits for a line on stdin before it connects; then `<response bytes> moved` or
 * `<response bytes> stayed` per request; after the last, `closed` once the connection is closed, then waits for
 * stdin to end before exiting.
 *
 *   raw-client CA PORT SIZE...
 */
export const GO_RAW_CLIENT = `package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"
	"unsafe"
)

//go:noinline
func grow(depth int) int {
	var pad [512]byte
	pad[depth%512] = byte(depth)
	if depth == 0 {
		return int(pad[0])
	}
	return grow(depth-1) + int(pad[depth%512])
}

type response struct {
	bytes int
	moved bool
	err   error
}

// readResponse reads one response whose body has a content-length, into a buffer on this goroutine's stack.
func readResponse(conn *tls.Conn) response {
	var buf [2048]byte
	var all []byte
	moved := false
	for {
		before := uintptr(unsafe.Pointer(&buf[0]))
		n, err := conn.Read(buf[:])
		if uintptr(unsafe.Pointer(&buf[0])) != before {
			moved = true
		}
		all = append(all, buf[:n]...)
		if end := bytes.Index(all, []byte("\\r\\n\\r\\n")); end >= 0 {
			length := 0
			for _, line := range bytes.Split(all[:end], []byte("\\r\\n")) {
				if bytes.HasPrefix(bytes.ToLower(line), []byte("content-length:")) {
					length, _ = strconv.Atoi(string(bytes.TrimSpace(line[len("content-length:"):])))
				}
			}
			if len(all) >= end+4+length {
				return response{bytes: len(all), moved: moved}
			}
		}
		if err != nil {
			return response{bytes: len(all), moved: moved, err: err}
		}
	}
}

func main() {
	ca, _ := os.ReadFile(os.Args[1])
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	stdin := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	stdin.ReadString('\\n')
	conn, err := tls.Dial("tcp", "127.0.0.1:"+os.Args[2], &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, arg := range os.Args[3:] {
		size, _ := strconv.Atoi(arg)
		done := make(chan response)
		go func() {
			grow(3000)
			done <- readResponse(conn)
		}()
		time.Sleep(50 * time.Millisecond) // the reader is parked in Read
		runtime.GC()
		runtime.GC()
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(97 + (i*7+5)%26)
		}
		head := fmt.Sprintf("POST /upload HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Type: application/octet-stream\\r\\nContent-Length: %d\\r\\n\\r\\n", size)
		if _, err := conn.Write(append([]byte(head), body...)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		got := <-done
		if got.err != nil {
			fmt.Fprintln(os.Stderr, got.err)
			os.Exit(1)
		}
		state := "stayed"
		if got.moved {
			state = "moved"
		}
		fmt.Println(got.bytes, state)
	}
	conn.Close()
	fmt.Println("closed")
	io.Copy(io.Discard, stdin)
}
`;

/**
 * An OpenAI-style client on net/http (HTTP/2 unless -http1), with an Authorization bearer: -calls chat completions,
 * every second one streamed (with usage in the last event). With -wait it prints "ready" and waits for a line on
 * stdin before calling; -delay-ms waits before the first call. Prints one JSON object: the protocol used and, per
 * call, the answer's id, content and usage as the client received them.
 *
 *   llm-client -url URL -ca CA -key KEY [-calls N] [-http1] [-wait] [-delay-ms N] [-prompt TEXT]
 */
export const GO_LLM_CLIENT = `package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

type usage struct {
	PromptTokens     int \`json:"prompt_tokens"\`
	CompletionTokens int \`json:"completion_tokens"\`
}

type result struct {
	Stream  bool   \`json:"stream"\`
	Proto   string \`json:"proto"\`
	Status  int    \`json:"status"\`
	ID      string \`json:"id"\`
	Model   string \`json:"model"\`
	Content string \`json:"content"\`
	Usage   usage  \`json:"usage"\`
	Prompt  string \`json:"prompt"\`
}

func main() {
	url := flag.String("url", "", "chat completions URL")
	caPath := flag.String("ca", "", "CA certificate")
	key := flag.String("key", "", "API key")
	calls := flag.Int("calls", 2, "calls to make")
	http1 := flag.Bool("http1", false, "HTTP/1.1 instead of HTTP/2")
	wait := flag.Bool("wait", false, "wait for a line on stdin before calling")
	delay := flag.Int("delay-ms", 0, "wait before the first call")
	prompt := flag.String("prompt", "Tell me about the sea", "prompt")
	flag.Parse()

	ca, err := os.ReadFile(*caPath)
	if err != nil {
		fail(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: !*http1}
	if *http1 {
		transport.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	if *wait {
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadString('\\n')
	}
	time.Sleep(time.Duration(*delay) * time.Millisecond)

	results := []result{}
	for i := 0; i < *calls; i++ {
		stream := i%2 == 1
		text := fmt.Sprintf("%s call %d", *prompt, i)
		request := map[string]interface{}{
			"model":      "gpt-4o-mini",
			"messages":   []map[string]string{{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": text}},
			"max_tokens": 64,
		}
		if stream {
			request["stream"] = true
			request["stream_options"] = map[string]bool{"include_usage": true}
		}
		body, _ := json.Marshal(request)
		req, _ := http.NewRequest("POST", *url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+*key)
		resp, err := client.Do(req)
		if err != nil {
			fail(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			fail(err)
		}
		r := result{Stream: stream, Proto: resp.Proto, Status: resp.StatusCode, Prompt: text}
		if stream {
			for _, line := range strings.Split(string(raw), "\\n") {
				if !strings.HasPrefix(line, "data: ") || line == "data: [DONE]" {
					continue
				}
				var chunk struct {
					ID      string \`json:"id"\`
					Model   string \`json:"model"\`
					Choices []struct {
						Delta struct {
							Content string \`json:"content"\`
						} \`json:"delta"\`
					} \`json:"choices"\`
					Usage *usage \`json:"usage"\`
				}
				if err := json.Unmarshal([]byte(line[len("data: "):]), &chunk); err != nil {
					fail(err)
				}
				r.ID, r.Model = chunk.ID, chunk.Model
				for _, choice := range chunk.Choices {
					r.Content += choice.Delta.Content
				}
				if chunk.Usage != nil {
					r.Usage = *chunk.Usage
				}
			}
		} else {
			var completion struct {
				ID      string \`json:"id"\`
				Model   string \`json:"model"\`
				Choices []struct {
					Message struct {
						Content string \`json:"content"\`
					} \`json:"message"\`
				} \`json:"choices"\`
				Usage usage \`json:"usage"\`
			}
			if err := json.Unmarshal(raw, &completion); err != nil {
				fail(err)
			}
			r.ID, r.Model, r.Usage = completion.ID, completion.Model, completion.Usage
			if len(completion.Choices) > 0 {
				r.Content = completion.Choices[0].Message.Content
			}
		}
		results = append(results, r)
	}
	out, _ := json.Marshal(map[string]interface{}{"pid": os.Getpid(), "results": results})
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
`;

/**
 * Goroutines that grow their stacks hard while making TLS calls: -workers goroutines, each in a loop recursing to a
 * random depth (up to megabytes of stack), then posting a chat completion that names the worker and the round, and
 * checking that the answer is about its own prompt; a collector goroutine runs the garbage collector, which shrinks
 * the stacks again. Even workers speak HTTP/2 on a connection of their own that they close after each call (so new
 * connections, and their Close, keep coming); odd workers share one HTTP/1.1 keep-alive client. Runs until its stdin
 * ends (at most -seconds), printing `progress N` (calls so far) twice a second; then prints `calls N wrong N` and
 * exits 0 only if every call succeeded with the right answer.
 *
 *   stack-stress -url URL -ca CA -key KEY -seconds S -workers N
 */
export const GO_STACK_STRESS = `package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

//go:noinline
func recurse(depth int) int {
	var frame [256]byte
	frame[depth%256] = byte(depth)
	if depth == 0 {
		return int(frame[0])
	}
	return recurse(depth-1) + int(frame[depth%256])
}

func main() {
	url := flag.String("url", "", "chat completions URL")
	caPath := flag.String("ca", "", "CA certificate")
	key := flag.String("key", "", "API key")
	seconds := flag.Int("seconds", 10, "how long to run")
	workers := flag.Int("workers", 16, "goroutines")
	flag.Parse()
	ca, err := os.ReadFile(*caPath)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}, Timeout: 30 * time.Second}

	var calls, wrong int64
	var ended int32
	go func() {
		io.Copy(io.Discard, os.Stdin)
		atomic.StoreInt32(&ended, 1)
	}()
	deadline := time.Now().Add(time.Duration(*seconds) * time.Second)
	running := func() bool { return atomic.LoadInt32(&ended) == 0 && time.Now().Before(deadline) }
	stop := make(chan struct{})
	go func() {
		for tick := 0; ; tick++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.GC()
				if tick%25 == 0 {
					fmt.Printf("progress %d\\n", atomic.LoadInt64(&calls))
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(worker int) {
			defer wg.Done()
			client := h1
			var h2 *http.Transport
			if worker%2 == 0 {
				h2 = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
				client = &http.Client{Transport: h2, Timeout: 30 * time.Second}
			}
			random := rand.New(rand.NewSource(int64(worker)))
			for round := 0; running(); round++ {
				recurse(random.Intn(8000))
				word := fmt.Sprintf("w%dr%d", worker, round)
				body, _ := json.Marshal(map[string]interface{}{
					"model":    "gpt-4o-mini",
					"messages": []map[string]string{{"role": "user", "content": word + " grows its stack"}},
				})
				req, _ := http.NewRequest("POST", *url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+*key)
				resp, err := client.Do(req)
				atomic.AddInt64(&calls, 1)
				if err != nil {
					fmt.Fprintln(os.Stderr, word, err)
					atomic.AddInt64(&wrong, 1)
					continue
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if h2 != nil {
					h2.CloseIdleConnections()
				}
				var completion struct {
					Choices []struct {
						Message struct {
							Content string \`json:"content"\`
						} \`json:"message"\`
					} \`json:"choices"\`
				}
				if err != nil || resp.StatusCode != 200 || json.Unmarshal(raw, &completion) != nil || len(completion.Choices) != 1 ||
					!strings.Contains(completion.Choices[0].Message.Content, word+" grows its stack") {
					fmt.Fprintln(os.Stderr, word, "wrong answer:", string(raw))
					atomic.AddInt64(&wrong, 1)
				}
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	fmt.Printf("calls %d wrong %d\\n", calls, wrong)
	if wrong > 0 || calls == 0 {
		os.Exit(1)
	}
}
`;
