// A Socket.IO room server with livecart's chat semantics, to measure livecart against:
// join a room, and every comment sent to the room is broadcast to everyone in it.
// Listens on 127.0.0.1 only; prints "listening <port>" once ready.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? 0);
const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(String(room));
    socket.data.room = String(room);
    if (typeof ack === "function") ack({ ok: true });
  });
  socket.on("comment", (comment) => {
    const room = socket.data.room;
    if (!room || typeof comment?.text !== "string" || comment.text.length > 300) return;
    io.to(room).emit("comment", { text: comment.text });
  });
});

http.listen(port, "127.0.0.1", () => {
  console.log(`listening ${http.address().port}`);
});

process.on("SIGTERM", () => io.close(() => process.exit(0)));
