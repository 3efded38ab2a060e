package fakecloudrun

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// CounterURI is the subscribable resource; the bump tool changes it.
const CounterURI = "fake://counter"

// Tool argument and result types; their JSON shapes are what clients see.
type (
	// EchoIn are the arguments of echo.
	EchoIn struct {
		Text    string `json:"text"`
		DelayMS int    `json:"delay_ms,omitempty" jsonschema:"milliseconds to wait before answering"`
	}
	// AddIn are the arguments of add.
	AddIn struct {
		A int `json:"a"`
		B int `json:"b"`
	}
	// AddOut is the structured result of add.
	AddOut struct {
		Sum int `json:"sum"`
	}
	// LargeIn are the arguments of large.
	LargeIn struct {
		Bytes int `json:"bytes" jsonschema:"size of the text result"`
	}
	// DigestIn are the arguments of digest.
	DigestIn struct {
		Data string `json:"data"`
	}
	// DigestOut is the structured result of digest.
	DigestOut struct {
		Length int    `json:"length"`
		SHA256 string `json:"sha256"`
	}
	// SlowIn are the arguments of slow.
	SlowIn struct {
		Steps      int `json:"steps"`
		IntervalMS int `json:"interval_ms,omitempty"`
	}
	// SampleIn are the arguments of sample.
	SampleIn struct {
		Prompt string `json:"prompt"`
	}
	// ElicitIn are the arguments of elicit.
	ElicitIn struct {
		Message string `json:"message"`
	}
	// ChangeToolsIn are the arguments of change_tools.
	ChangeToolsIn struct {
		DelayMS int `json:"delay_ms,omitempty"`
	}
	// Empty is the argument of tools without arguments.
	Empty struct{}
	// BumpOut is the structured result of bump.
	BumpOut struct {
		Counter int `json:"counter"`
	}
)

// LargeText returns the deterministic n-byte text the large tool answers with.
func LargeText(n int) string {
	const pattern = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
	var b strings.Builder
	b.Grow(n)
	for b.Len() < n {
		b.WriteString(pattern[:min(len(pattern), n-b.Len())])
	}
	return b.String()
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *Server) newMCPServer() *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "fakecloudrun", Version: "1.0.0"}, &mcp.ServerOptions{
		Instructions:              "A fake Cloud Run MCP service for testing mcp-cloudrun-proxy.",
		SubscribeHandler:          func(context.Context, *mcp.SubscribeRequest) error { return nil },
		UnsubscribeHandler:        func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
		SupportedProtocolVersions: s.opts.ProtocolVersions,
	})
	// Closing a go-sdk session waits for its running handlers; a real service's handlers end
	// when their session does, so cancel them first (see cancelCalls).
	srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method != "tools/call" || req.GetSession() == nil {
				return next(ctx, method, req)
			}
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			untrack := s.trackCall(req.GetSession().ID(), cancel)
			defer untrack()
			return next(ctx, method, req)
		}
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "echo", Description: "Answers with the text, after delay_ms."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in EchoIn) (*mcp.CallToolResult, any, error) {
			if err := sleep(ctx, time.Duration(in.DelayMS)*time.Millisecond); err != nil {
				return nil, nil, err
			}
			return text(in.Text), nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "add", Description: "Adds a and b; structured result."},
		func(_ context.Context, _ *mcp.CallToolRequest, in AddIn) (*mcp.CallToolResult, AddOut, error) {
			return nil, AddOut{Sum: in.A + in.B}, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "large", Description: "Answers with a text of the given number of bytes (see LargeText)."},
		func(_ context.Context, _ *mcp.CallToolRequest, in LargeIn) (*mcp.CallToolResult, any, error) {
			if in.Bytes < 0 || in.Bytes > 64<<20 {
				return nil, nil, fmt.Errorf("bytes must be in [0, 64 MiB]")
			}
			return text(LargeText(in.Bytes)), nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "digest", Description: "Answers with the length and SHA-256 of data."},
		func(_ context.Context, _ *mcp.CallToolRequest, in DigestIn) (*mcp.CallToolResult, DigestOut, error) {
			sum := sha256.Sum256([]byte(in.Data))
			return nil, DigestOut{Length: len(in.Data), SHA256: hex.EncodeToString(sum[:])}, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "slow", Description: "Sends a progress notification per step, interval_ms apart, then answers."},
		func(ctx context.Context, req *mcp.CallToolRequest, in SlowIn) (*mcp.CallToolResult, any, error) {
			token := req.Params.GetProgressToken()
			for i := 1; i <= in.Steps; i++ {
				if err := sleep(ctx, time.Duration(in.IntervalMS)*time.Millisecond); err != nil {
					return nil, nil, err
				}
				if token != nil {
					err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
						ProgressToken: token,
						Progress:      float64(i),
						Total:         float64(in.Steps),
						Message:       fmt.Sprintf("step %d of %d", i, in.Steps),
					})
					if err != nil {
						return nil, nil, fmt.Errorf("notify progress: %w", err)
					}
				}
			}
			return text(fmt.Sprintf("done after %d steps", in.Steps)), nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "sample", Description: "Asks the client to sample a completion of prompt and answers with it."},
		func(ctx context.Context, req *mcp.CallToolRequest, in SampleIn) (*mcp.CallToolResult, any, error) {
			res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{
				MaxTokens: 64,
				Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: in.Prompt}}},
			})
			if err != nil {
				return nil, nil, fmt.Errorf("sampling: %w", err)
			}
			t, _ := res.Content.(*mcp.TextContent)
			if t == nil {
				return nil, nil, fmt.Errorf("sampling returned non-text content")
			}
			return text(fmt.Sprintf("sampled (%s): %s", res.Model, t.Text)), nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "elicit", Description: "Asks the client for a name and answers with what it got."},
		func(ctx context.Context, req *mcp.CallToolRequest, in ElicitIn) (*mcp.CallToolResult, any, error) {
			res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{
				Message: in.Message,
				RequestedSchema: map[string]any{
					"type":       "object",
					"properties": map[string]any{"name": map[string]any{"type": "string"}},
					"required":   []string{"name"},
				},
			})
			if err != nil {
				return nil, nil, fmt.Errorf("elicitation: %w", err)
			}
			content, _ := json.Marshal(res.Content)
			return text(fmt.Sprintf("action=%s content=%s", res.Action, content)), nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "change_tools", Description: "After delay_ms, outside any request, adds a tool: every session gets notifications/tools/list_changed."},
		func(_ context.Context, _ *mcp.CallToolRequest, in ChangeToolsIn) (*mcp.CallToolResult, any, error) {
			s.mu.Lock()
			s.dynamicTools++
			name := "dynamic_" + strconv.Itoa(s.dynamicTools)
			s.mu.Unlock()
			go func() {
				time.Sleep(time.Duration(in.DelayMS) * time.Millisecond)
				mcp.AddTool(srv, &mcp.Tool{Name: name, Description: "Added by change_tools."},
					func(context.Context, *mcp.CallToolRequest, Empty) (*mcp.CallToolResult, any, error) {
						return text(name), nil, nil
					})
			}()
			return text("will add " + name), nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "bump", Description: "Increments " + CounterURI + "; subscribers get notifications/resources/updated."},
		func(_ context.Context, _ *mcp.CallToolRequest, _ Empty) (*mcp.CallToolResult, BumpOut, error) {
			s.mu.Lock()
			s.counter++
			n := s.counter
			s.mu.Unlock()
			if err := srv.ResourceUpdated(context.Background(), &mcp.ResourceUpdatedNotificationParams{URI: CounterURI}); err != nil {
				return nil, BumpOut{}, fmt.Errorf("notify: %w", err)
			}
			return nil, BumpOut{Counter: n}, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "whoami", Description: "Answers with the claims of the ID token the gate accepted."},
		func(_ context.Context, req *mcp.CallToolRequest, _ Empty) (*mcp.CallToolResult, map[string]any, error) {
			raw, _ := strings.CutPrefix(req.Extra.Header.Get("Authorization"), "Bearer ")
			claims, err := Claims(raw)
			if err != nil {
				return nil, nil, err
			}
			return nil, claims, nil
		})
	srv.AddResource(&mcp.Resource{URI: CounterURI, Name: "counter", MIMEType: "text/plain", Description: "A counter the bump tool increments."},
		func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			s.mu.Lock()
			n := s.counter
			s.mu.Unlock()
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: CounterURI, MIMEType: "text/plain", Text: strconv.Itoa(n)}}}, nil
		})
	addModernFeatures(srv)
	return srv
}

// Claims decodes the payload of a JWT without verifying it (the gate already did).
func Claims(raw string) (map[string]any, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("decode JWT payload: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse JWT payload: %w", err)
	}
	return m, nil
}
