// Benchmark peer: the TypeScript MCP SDK serving one `echo` tool over stateless Streamable HTTP
// with JSON responses, written after the SDK's own stateless example
// (examples/server/simpleStatelessStreamableHttp): a new McpServer and transport per request.
//
//   node server.mjs --port PORT [--jwks-url URL --issuer ISS --audience AUD]
//
// With the auth flags, the SDK's requireBearerAuth guards /mcp and requires the `echo` scope;
// tokens are RS256 JWTs checked with jose against the JWKS at URL.

import { parseArgs } from 'node:util';

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as z from 'zod/v4';

const HOST = '127.0.0.1';
const USAGE = 'usage: node server.mjs --port PORT [--jwks-url URL --issuer ISS --audience AUD]';

function parseCommandLine() {
    const { values } = parseArgs({
        options: {
            port: { type: 'string' },
            'jwks-url': { type: 'string' },
            issuer: { type: 'string' },
            audience: { type: 'string' },
        },
        strict: true,
    });
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new Error(`--port is required and must be a port number\n${USAGE}`);
    }
    const authFlags = [values['jwks-url'], values.issuer, values.audience];
    const given = authFlags.filter((value) => value !== undefined).length;
    if (given !== 0 && given !== authFlags.length) {
        throw new Error(`--jwks-url, --issuer and --audience go together\n${USAGE}`);
    }
    const auth = given === 0
        ? undefined
        : { jwksUrl: values['jwks-url'], issuer: values.issuer, audience: values.audience };
    return { port, auth };
}

function getServer() {
    const server = new McpServer({ name: 'bench-echo', version: '0.0.0' });
    server.registerTool(
        'echo',
        {
            description: 'Returns its text argument unchanged',
            inputSchema: { text: z.string() },
        },
        async ({ text }) => ({ content: [{ type: 'text', text }] }),
    );
    return server;
}

// An OAuthTokenVerifier for requireBearerAuth: any failure is an InvalidTokenError, which the
// middleware turns into 401 + `WWW-Authenticate: Bearer error="invalid_token"`.
function jwtVerifier({ jwksUrl, issuer, audience }) {
    // Fetched on first use, then cached by jose.
    const jwks = createRemoteJWKSet(new URL(jwksUrl));
    return {
        async verifyAccessToken(token) {
            let payload;
            try {
                ({ payload } = await jwtVerify(token, jwks, {
                    algorithms: ['RS256'],
                    issuer,
                    audience,
                    requiredClaims: ['exp', 'sub'],
                }));
            } catch (error) {
                // jose's code (ERR_JWT_EXPIRED, ...) rather than its message: the SDK puts this
                // text inside a quoted WWW-Authenticate parameter without escaping, and jose's
                // messages contain quotes.
                throw new InvalidTokenError(error?.code ?? 'invalid token');
            }
            return {
                token,
                clientId: typeof payload.client_id === 'string' ? payload.client_id : payload.sub,
                scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
                expiresAt: payload.exp,
            };
        },
    };
}

async function handleMcp(req, res) {
    const server = getServer();
    try {
        const transport = new StreamableHTTPServerTransport({
            sessionIdGenerator: undefined,
            enableJsonResponse: true,
        });
        res.on('close', () => {
            transport.close();
            server.close();
        });
        await server.connect(transport);
        await transport.handleRequest(req, res, req.body);
    } catch (error) {
        console.error('error handling MCP request:', error);
        if (!res.headersSent) {
            res.status(500).json({
                jsonrpc: '2.0',
                error: { code: -32603, message: 'Internal server error' },
                id: null,
            });
        }
    }
}

function methodNotAllowed(_req, res) {
    res.status(405).set('Allow', 'POST').json({
        jsonrpc: '2.0',
        error: { code: -32000, message: 'Method not allowed.' },
        id: null,
    });
}

function main() {
    let options;
    try {
        options = parseCommandLine();
    } catch (error) {
        console.error(error.message);
        process.exit(2);
    }

    // Binds to and validates Host against 127.0.0.1 (DNS rebinding protection), parses JSON bodies.
    const app = createMcpExpressApp({ host: HOST });
    const guard = options.auth
        ? [requireBearerAuth({ verifier: jwtVerifier(options.auth), requiredScopes: ['echo'] })]
        : [];
    app.post('/mcp', ...guard, handleMcp);
    app.get('/mcp', ...guard, methodNotAllowed);
    app.delete('/mcp', ...guard, methodNotAllowed);

    const listener = app.listen(options.port, HOST, (error) => {
        if (error) {
            console.error('failed to listen:', error);
            process.exit(1);
        }
        const { address, port } = listener.address();
        console.log(`listening on ${address}:${port}`);
    });

    const stop = () => {
        listener.close(() => process.exit(0));
        // Kept-alive connections would hold close() open.
        listener.closeAllConnections();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}

main();
