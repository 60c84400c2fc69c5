import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = open('page.html','rb').read()
        self.send_response(200); self.send_header('Content-Type','text/html'); self.send_header('Content-Length',str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_POST(self):
        n = int(self.headers['Content-Length']); d = self.rfile.read(n)
        open('offer.sdp','wb').write(d)
        self.send_response(200); self.send_header('Content-Length','0'); self.end_headers()
        sys.stdout.write('GOT\n'); sys.stdout.flush()
http.server.HTTPServer(('127.0.0.1', 18765), H).serve_forever()
