// The three-area layout in Fastify (find-my-way router, its defaults): answers which handler
// Fastify chose.
const fastify = require('fastify')({ logger: false });

const answer = (area) => async (req, reply) => {
  reply.header('X-App', 'fastify').header('X-Area', area).type('text/plain');
  return `area=${area} user=${req.headers['x-auth-user-id'] || ''} path=${req.url.split('?')[0]}`;
};
for (const [area, paths] of [['public', ['/public', '/public/*']], ['admin', ['/admin', '/admin/*']], ['protected', ['/', '/*']]]) {
  for (const url of paths) fastify.all(url, answer(area));
}
fastify.listen({ port: Number(process.argv[2]), host: '127.0.0.1' }).then(() => console.log('ready'));
