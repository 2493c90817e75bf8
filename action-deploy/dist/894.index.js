export const id = 894;
export const ids = [894];
export const modules = {

/***/ 3894:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   openEndpoint: () => (/* binding */ openEndpoint)
/* harmony export */ });
/* harmony import */ var node_net__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(7030);
/* harmony import */ var node_net__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_net__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _ssh_connect_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(5820);
/* harmony import */ var _ssh_target_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(8229);
/**
 * Reaching the database: directly, or — when it listens only on the droplet — through an SSH
 * tunnel opened with the suite's SSH layer (same host-key pinning, retries and jump host). The
 * tunnel is a local TCP listener on 127.0.0.1 whose every connection becomes a direct-tcpip
 * channel to the URL's host and port, resolved on the droplet; pg_dump, psql and node-pg all
 * connect to it as to any server.
 */



async function openEndpoint(db, via, log) {
    if (!via)
        return { db, reach: {}, route: 'directly', close: async () => undefined };
    const session = await (0,_ssh_connect_js__WEBPACK_IMPORTED_MODULE_1__/* .openSession */ .f)(via.host, via.ssh, log);
    try {
        const server = await listenForwarding(session, db.host, db.port);
        const address = server.address();
        log.info(`database ${db.host}:${db.port} reached through ${(0,_ssh_target_js__WEBPACK_IMPORTED_MODULE_2__/* .describeTarget */ .f)(via.host)} (tunnel on 127.0.0.1:${address.port})`);
        return {
            db,
            reach: { address: '127.0.0.1', port: address.port },
            route: `through ${(0,_ssh_target_js__WEBPACK_IMPORTED_MODULE_2__/* .describeTarget */ .f)(via.host)}`,
            close: async () => {
                await new Promise((resolve) => server.close(() => resolve()));
                session.close();
            },
        };
    }
    catch (error) {
        session.close();
        throw error;
    }
}
function listenForwarding(session, host, port) {
    const sockets = new Set();
    const server = (0,node_net__WEBPACK_IMPORTED_MODULE_0__.createServer)((socket) => {
        sockets.add(socket);
        socket.setNoDelay(true);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => socket.destroy());
        socket.pause();
        session.forward(host, port).then((channel) => {
            channel.on('error', () => socket.destroy());
            socket.on('close', () => channel.destroy());
            channel.on('close', () => socket.destroy());
            socket.pipe(channel).pipe(socket);
            socket.resume();
        }, () => socket.destroy());
    });
    // close() waits for open connections; the tools have exited by then, but a stray one must not hang us.
    const close = server.close.bind(server);
    server.close = (callback) => {
        for (const socket of sockets)
            socket.destroy();
        return close(callback);
    };
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
    });
}


/***/ })

};
