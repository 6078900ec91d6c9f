import { scanBomb } from './dist/scripts/hostile-images.js';
import sharp from 'sharp';
const side = Number(process.argv[2]);
const sb = scanBomb(side); console.log('bytes', sb.length);
let t=performance.now(); const m = await sharp(sb).metadata(); console.log('meta', m.width, m.isProgressive, performance.now()-t);
t=performance.now(); const o = await sharp(sb,{limitInputPixels:false, failOn:'truncated'}).raw().toBuffer(); console.log('scan decode ms', performance.now()-t, o[0], process.memoryUsage().rss/1e6);
