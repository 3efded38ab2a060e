package cloudrun

import (
	"fmt"
	"strings"
)

// A Level grades one [Judgment].
type Level int

// The levels, from fine to fatal.
const (
	Good Level = iota
	Doubt
	Bad
)

// A Judgment is what one setting of the service means for this caller.
type Judgment struct {
	// Topic is ingress, invoker_iam, audience, iap or invoke.
	Topic  string
	Level  Level
	Found  string
	Note   string
	Remedy string
}

// Facts are what debug knows when it judges a service's settings.
type Facts struct {
	Service Service
	// URL is the URL in use; Audience the aud requested; TokenAudience the aud the token
	// carries (an OAuth client id for user credentials), "" when no token was minted.
	URL, Audience, TokenAudience string
	// Principal is the email the tokens act as.
	Principal string
	// CanInvoke is the :testIamPermissions answer; InvokeErr why there is none.
	CanInvoke bool
	InvokeErr error
	// Invokers are the members bound to roles/run.invoker (:getIamPolicy), when the caller
	// may read the policy; nil when unknown.
	Invokers []string
}

// Judge grades ingress, invokerIamDisabled, customAudiences, iapEnabled and the caller's
// run.routes.invoke, in that order.
func Judge(f Facts) []Judgment {
	js := []Judgment{judgeIngress(f)}
	s := f.Service
	if s.InvokerIAMDisabled {
		js = append(js, Judgment{Topic: "invoker_iam", Level: Good,
			Found: "invoker IAM check disabled: the service is public, no token is needed (the proxy still sends one, which Cloud Run ignores)"})
	} else {
		js = append(js, judgeAudience(f))
	}
	if s.IAPEnabled {
		js = append(js, Judgment{Topic: "iap", Level: Doubt,
			Found:  "Identity-Aware Proxy is enabled: IAP checks every request before Cloud Run does",
			Note:   "the principal needs roles/iap.httpsResourceAccessor on the service (IAP's own policy, not the service's), and the project's IAP service agent needs roles/run.invoker",
			Remedy: GrantIAPAccess(s.Ref(), f.Principal) + "; " + Propagation})
	}
	if !s.InvokerIAMDisabled {
		js = append(js, judgeInvoke(f))
	}
	return js
}

func judgeIngress(f Facts) Judgment {
	r := f.Service.Ref()
	open := fmt.Sprintf("gcloud run services update %s --region %s --project %s --ingress=all", r.name(), r.region(), r.project())
	switch f.Service.Ingress {
	case IngressInternalOnly:
		return Judgment{Topic: "ingress", Level: Bad,
			Found:  "ingress internal: only requests from the project's VPC networks (and Shared VPC, VPC Service Controls perimeters) reach the service; from this machine it answers 404",
			Note:   "requests from the internet, this machine included, never reach the container",
			Remedy: "run the MCP client on a machine inside the VPC network (or reach it through Cloud VPN/Interconnect), or allow external traffic: `" + open + "`"}
	case IngressInternalLoadBalancer:
		if f.Service.HasURL(f.URL) {
			return Judgment{Topic: "ingress", Level: Bad,
				Found:  "ingress internal-and-cloud-load-balancing: the run.app URL in use is closed to the internet; only the internal network and an external Application Load Balancer reach the service",
				Remedy: "use the load balancer's URL as --url (and add it as a custom audience), or allow external traffic: `" + open + "`"}
		}
		return Judgment{Topic: "ingress", Level: Good,
			Found: "ingress internal-and-cloud-load-balancing: reachable through a load balancer, which --url (not a run.app URL of the service) presumably is"}
	}
	return Judgment{Topic: "ingress", Level: Good, Found: "ingress all: reachable from the internet"}
}

func judgeAudience(f Facts) Judgment {
	s := f.Service
	accepted := []string{}
	for _, u := range s.AllURLs() {
		accepted = append(accepted, Origin(u))
	}
	custom := "no custom audiences"
	if len(s.CustomAudiences) > 0 {
		custom = "custom audiences " + strings.Join(s.CustomAudiences, ", ")
	}
	aud := f.Audience
	ok := contains(accepted, aud) || contains(accepted, strings.TrimSuffix(aud, "/")) || contains(s.CustomAudiences, aud)
	switch {
	case ok:
		return Judgment{Topic: "audience", Level: Good, Found: fmt.Sprintf("audience %s accepted (service URLs %s; %s)", aud, strings.Join(accepted, ", "), custom)}
	case IsOAuthClientID(f.TokenAudience) && f.TokenAudience != aud:
		// The credential cannot choose aud; debug's token step already says so.
		return Judgment{Topic: "audience", Level: Good, Found: fmt.Sprintf("service URLs %s; %s (the token carries the OAuth client id, which these credentials cannot change)", strings.Join(accepted, ", "), custom)}
	}
	return Judgment{Topic: "audience", Level: Bad,
		Found:  fmt.Sprintf("audience %s is neither a URL of the service (%s) nor one of its custom audiences (%s): Cloud Run answers 401 to such tokens", aud, strings.Join(accepted, ", "), custom),
		Remedy: fmt.Sprintf("pass --audience %s (or leave --audience out when --url is the service's URL), or make the service accept it: `%s`", firstOf(firstElem(accepted), "SERVICE_URL"), AddCustomAudience(s.Ref(), aud))}
}

func judgeInvoke(f Facts) Judgment {
	who := firstOf(f.Principal, "the principal")
	switch {
	case f.InvokeErr != nil:
		return Judgment{Topic: "invoke", Level: Good,
			Found: fmt.Sprintf("could not ask whether %s may invoke (:testIamPermissions: %v); the initialize step shows whether the service lets it in", who, f.InvokeErr)}
	case f.CanInvoke:
		return Judgment{Topic: "invoke", Level: Good, Found: fmt.Sprintf("%s holds %s on the service", who, PermissionInvoke)}
	}
	note := "the service's IAM policy, read with the caller's own credentials (:testIamPermissions), grants it no role with that permission"
	switch {
	case f.Invokers == nil:
	case len(f.Invokers) == 0:
		note += "; nobody holds roles/run.invoker on it"
	default:
		note += "; roles/run.invoker is granted to " + strings.Join(f.Invokers, ", ")
	}
	return Judgment{Topic: "invoke", Level: Bad,
		Found:  fmt.Sprintf("%s lacks %s on the service: Cloud Run will answer 403", who, PermissionInvoke),
		Note:   note,
		Remedy: "`" + GrantInvoker(f.Service.Ref(), f.Principal) + "`; " + Propagation}
}

func firstElem(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
