package fakecloudrun

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// RegionSchema is the input schema of the forecast tool: its region argument is mirrored into
// the Mcp-Param-Region header under protocol 2026-07-28 (x-mcp-header), and the server rejects
// a call whose header is missing or disagrees with the body.
const RegionSchema = `{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},"days":{"type":"integer","x-mcp-header":"Days"},"query":{"type":"string"}},"required":["region"]}`

// GreetingPrompt is the name of the prompt the server offers.
const GreetingPrompt = "greeting"

// addModernFeatures adds what the 2026-07-28 tests exercise: a tool with x-mcp-header
// arguments, a tool that asks the client for input through an input_required result (multi
// round-trip requests; earlier revisions get an elicitation request instead), and a prompt.
func addModernFeatures(srv *mcp.Server) {
	srv.AddTool(&mcp.Tool{Name: "forecast", Description: "Answers with the region and days it was called with.", InputSchema: json.RawMessage(RegionSchema)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var in struct {
				Region string `json:"region"`
				Days   int    `json:"days"`
			}
			if err := json.Unmarshal(req.Params.Arguments, &in); err != nil {
				return nil, err
			}
			return text(fmt.Sprintf("%s/%d", in.Region, in.Days)), nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "greet", Description: "Asks the client for a name (input_required), then greets it."},
		func(_ context.Context, req *mcp.CallToolRequest, _ Empty) (*mcp.CallToolResult, any, error) {
			if len(req.Params.InputResponses) == 0 {
				return &mcp.CallToolResult{
					InputRequests: mcp.InputRequestMap{"who": &mcp.ElicitParams{
						Message:         "Who is there?",
						RequestedSchema: &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"name": {Type: "string"}}},
					}},
					RequestState: "asked",
				}, nil, nil
			}
			res, ok := req.Params.InputResponses["who"].(*mcp.ElicitResult)
			if !ok {
				return nil, nil, fmt.Errorf("no answer for who")
			}
			return text(fmt.Sprintf("Hello %v", res.Content["name"])), nil, nil
		})
	srv.AddPrompt(&mcp.Prompt{Name: GreetingPrompt, Description: "Greets someone.", Arguments: []*mcp.PromptArgument{{Name: "name", Required: true}}},
		func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "Say hello to " + req.Params.Arguments["name"]}}}}, nil
		})
}
