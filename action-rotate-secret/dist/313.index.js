export const id = 313;
export const ids = [313];
export const modules = {

/***/ 3313:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   sealForGithub: () => (/* binding */ sealForGithub)
/* harmony export */ });
/* unused harmony export sealedBox */
/* harmony import */ var tweetnacl__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(668);
/* harmony import */ var tweetnacl__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(tweetnacl__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var blakejs__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(9874);
/* harmony import */ var blakejs__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__webpack_require__.n(blakejs__WEBPACK_IMPORTED_MODULE_1__);
/**
 * libsodium's `crypto_box_seal`, which GitHub requires for secret values: an ephemeral X25519 key
 * pair, the nonce blake2b-24(ephemeral public key ‖ recipient key), XSalsa20-Poly1305, output
 * ephemeral public key ‖ box. Node's crypto has no XSalsa20, so tweetnacl (the box) and blakejs
 * (the nonce) are composed exactly as GitHub's former `tweetsodium` did; the tests open every box
 * with libsodium itself.
 */


function concat(a, b) {
    const out = new Uint8Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
}
function sealedBox(message, recipientPublicKey) {
    if (recipientPublicKey.length !== (tweetnacl__WEBPACK_IMPORTED_MODULE_0___default().box).publicKeyLength)
        throw new Error(`a sealed box needs a ${(tweetnacl__WEBPACK_IMPORTED_MODULE_0___default().box).publicKeyLength}-byte public key, got ${recipientPublicKey.length}`);
    const ephemeral = tweetnacl__WEBPACK_IMPORTED_MODULE_0___default().box.keyPair();
    const nonce = (0,blakejs__WEBPACK_IMPORTED_MODULE_1__.blake2b)(concat(ephemeral.publicKey, recipientPublicKey), undefined, (tweetnacl__WEBPACK_IMPORTED_MODULE_0___default().box).nonceLength);
    const box = tweetnacl__WEBPACK_IMPORTED_MODULE_0___default().box(message, nonce, recipientPublicKey, ephemeral.secretKey);
    ephemeral.secretKey.fill(0);
    return concat(ephemeral.publicKey, box);
}
/** The value as GitHub's secrets API wants it: sealed to the scope's base64 public key, base64. */
function sealForGithub(value, publicKeyBase64) {
    const key = new Uint8Array(Buffer.from(publicKeyBase64, 'base64'));
    return Buffer.from(sealedBox(new Uint8Array(Buffer.from(value, 'utf8')), key)).toString('base64');
}


/***/ })

};
