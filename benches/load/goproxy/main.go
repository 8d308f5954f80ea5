// Go's reverse proxy with a standard-library HS256 check: the floor of oauth2-proxy's data
// path, for the load benchmark. `/public/` passes unchecked; anything else needs
// `Authorization: Bearer <HS256 JWT>` whose signature, `alg` and `exp` hold, else 401.
//
//	go run . LISTEN UPSTREAM SECRET
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"
)

func main() {
	// One worker, like every proxy the load script measures.
	runtime.GOMAXPROCS(1)
	if len(os.Args) != 4 {
		log.Fatal("usage: goproxy LISTEN UPSTREAM SECRET")
	}
	listen, upstream, secret := os.Args[1], os.Args[2], []byte(os.Args[3])
	target, err := url.Parse("http://" + upstream)
	if err != nil {
		log.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/public/") && !valid(r.Header.Get("Authorization"), secret) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	})
	log.Fatal(http.ListenAndServe(listen, handler))
}

func valid(header string, secret []byte) bool {
	token := strings.TrimPrefix(header, "Bearer ")
	if token == header {
		return false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return false
	}
	var head struct {
		Alg string `json:"alg"`
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(raw, &head) != nil || head.Alg != "HS256" {
		return false
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	raw, err = base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(raw, &claims) != nil {
		return false
	}
	return claims.Exp > time.Now().Unix()
}
