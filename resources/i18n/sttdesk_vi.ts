<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="vi" sourcelanguage="en">
<context>
    <name>AgentsModel</name>
    <message>
        <source>Agent</source>
        <extracomment>The agent&apos;s key (its id, or its endpoint before it said who it is). A plain value to sort the column by. Connected now, and whether it answered (READY). Approved to receive audio (None: the store has no record of it yet). Seconds of work per second of audio, measured over its lifetime; None before any work. Announced on the LAN right now (zeroconf). The ``host:port`` it was added by (it can be removed from the list); &quot;&quot; when it was not. The agent answered that it does not trust this computer: they must be paired.</extracomment>
        <translation>Máy xử lý</translation>
    </message>
    <message>
        <source>Where</source>
        <translation>Vị trí</translation>
    </message>
    <message>
        <source>State</source>
        <translation>Trạng thái</translation>
    </message>
    <message>
        <source>Approved</source>
        <translation>Đã duyệt</translation>
    </message>
    <message>
        <source>Slots × threads</source>
        <translation>Khe × luồng</translation>
    </message>
    <message>
        <source>Busy</source>
        <translation>Đang bận</translation>
    </message>
    <message>
        <source>Speed</source>
        <translation>Tốc độ</translation>
    </message>
    <message>
        <source>Parts done</source>
        <translation>Đoạn đã xong</translation>
    </message>
    <message>
        <source>Last seen</source>
        <translation>Lần cuối thấy</translation>
    </message>
    <message>
        <source>Key fingerprint: %1</source>
        <translation>Dấu vân tay khoá: %1</translation>
    </message>
    <message>
        <source>none</source>
        <translation>không có</translation>
    </message>
    <message>
        <source>Models: %1</source>
        <translation>Mô hình: %1</translation>
    </message>
    <message>
        <source>Not paired</source>
        <translation>Chưa ghép đôi</translation>
    </message>
    <message>
        <source>This computer</source>
        <translation>Máy này</translation>
    </message>
    <message>
        <source>Found, not paired</source>
        <translation>Đã thấy, chưa ghép đôi</translation>
    </message>
    <message>
        <source>Offline</source>
        <translation>Ngoại tuyến</translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation>Đang kết nối…</translation>
    </message>
    <message>
        <source>Working</source>
        <translation>Đang làm việc</translation>
    </message>
    <message>
        <source>Ready</source>
        <translation>Sẵn sàng</translation>
    </message>
    <message>
        <source>Yes (this computer)</source>
        <translation>Có (máy này)</translation>
    </message>
    <message>
        <source>No (key %1)</source>
        <translation>Không (khoá %1)</translation>
    </message>
    <message>
        <source>Not yet</source>
        <translation>Chưa</translation>
    </message>
    <message>
        <source>Yes</source>
        <translation>Có</translation>
    </message>
    <message>
        <source>No</source>
        <translation>Không</translation>
    </message>
    <message>
        <source>just now</source>
        <translation>vừa xong</translation>
    </message>
    <message>
        <source>%1 ago</source>
        <translation>%1 trước</translation>
    </message>
</context>
<context>
    <name>AgentsPanel</name>
    <message>
        <source>Agents</source>
        <extracomment>How often the panel reads the agents again while it is shown. The window&apos;s size before the columns are measured; it grows to show every column whole. Room kept for the columns sized by their contents, in pixels: agent name, where, and approved, which holds a whole key fingerprint for agents found but not paired. Events after which the list is read again at once (rather than at the next tick). A message for the main window&apos;s status bar. An agent event arrived during a read: read once more when it ends.</extracomment>
        <translation>Máy xử lý</translation>
    </message>
    <message>
        <source>Agents transcribe the parts of your recordings. This computer runs its own; office PCs running sttdesk-agent can join on the local network.</source>
        <translation>Các máy xử lý chép lời từng đoạn bản ghi của bạn. Máy này tự chạy máy xử lý riêng; các máy tính trong văn phòng chạy sttdesk-agent có thể tham gia qua mạng nội bộ.</translation>
    </message>
    <message>
        <source>host:port, e.g. 192.168.1.20:%1</source>
        <translation>máy:cổng, ví dụ 192.168.1.20:%1</translation>
    </message>
    <message>
        <source>Add Agent</source>
        <translation>Thêm máy xử lý</translation>
    </message>
    <message>
        <source>LAN agents receive audio only once paired. An agent found on the network but not paired is listed with its key fingerprint and gets no work.</source>
        <translation>Máy xử lý trong mạng LAN chỉ nhận âm thanh sau khi đã ghép đôi. Máy được tìm thấy trên mạng nhưng chưa ghép đôi được liệt kê kèm dấu vân tay khoá và không được giao việc.</translation>
    </message>
    <message>
        <source>its key, shown by sttdesk-agent key</source>
        <translation>khoá của nó, xem bằng sttdesk-agent key</translation>
    </message>
    <message>
        <source>Use an agent the network does not announce, now and after every start</source>
        <translation>Dùng một máy xử lý mà mạng không tự thông báo, ngay bây giờ và sau mỗi lần khởi động</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>Xoá</translation>
    </message>
    <message>
        <source>Stop using the selected agent added by address</source>
        <translation>Ngừng dùng máy xử lý đã chọn (được thêm theo địa chỉ)</translation>
    </message>
    <message>
        <source>Pair…</source>
        <translation>Ghép đôi…</translation>
    </message>
    <message>
        <source>Approve the selected agent with the code it shows, so that it receives work</source>
        <translation>Duyệt máy xử lý đã chọn bằng mã nó hiển thị để nó được giao việc</translation>
    </message>
    <message>
        <source>Revoke</source>
        <translation>Thu hồi</translation>
    </message>
    <message>
        <source>Stop trusting the selected agent: it gets no more audio, and its work in progress goes back to the queue</source>
        <translation>Thôi tin cậy máy xử lý đã chọn: nó không nhận thêm âm thanh, phần việc đang làm được trả về hàng đợi</translation>
    </message>
    <message>
        <source>Add by address:</source>
        <extracomment>The outcome of the last add or remove (the summary is rewritten on every read).</extracomment>
        <translation>Thêm theo địa chỉ:</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>Đóng</translation>
    </message>
    <message>
        <source>Asking %1 for a pairing code…</source>
        <translation>Đang đề nghị %1 tạo mã ghép đôi…</translation>
    </message>
    <message>
        <source>Stop sending audio to %1? Its work in progress goes back to the queue. To use it again, pair it again.</source>
        <translation>Ngừng gửi âm thanh tới %1? Phần việc đang làm được trả về hàng đợi. Muốn dùng lại, hãy ghép đôi lại.</translation>
    </message>
    <message>
        <source>Revoke agent</source>
        <translation>Thu hồi máy xử lý</translation>
    </message>
    <message>
        <source>Paired with %1: it receives work from now on.</source>
        <translation>Đã ghép đôi với %1: từ giờ nó được giao việc.</translation>
    </message>
    <message>
        <source>%1 is no longer trusted</source>
        <translation>%1 không còn được tin cậy</translation>
    </message>
    <message>
        <source>Connecting to %1…</source>
        <translation>Đang kết nối tới %1…</translation>
    </message>
    <message>
        <source>%1 is no longer used</source>
        <translation>Đã ngừng dùng %1</translation>
    </message>
    <message numerus="yes">
        <source>%n agent(s) ready</source>
        <translation>
            <numerusform>%n máy xử lý sẵn sàng</numerusform>
        </translation>
    </message>
    <message>
        <source>%1 of %2 slots busy</source>
        <translation>%1 trên %2 khe đang bận</translation>
    </message>
    <message numerus="yes">
        <source>%n found, not paired</source>
        <translation>
            <numerusform>%n máy đã thấy, chưa ghép đôi</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>DesktopApp</name>
    <message>
        <source>sttdesk could not start</source>
        <extracomment>How long quitting waits for background tasks (a model install is cancelled first). Python&apos;s thread switch interval while the app runs (seconds; Python&apos;s default is 0.005). Qt paints a table by calling into Python for every cell and role, and each call takes the GIL back from the worker threads; with the default, each hand-over can wait up to 5 ms, and a paint makes hundreds of them.</extracomment>
        <translation>Không khởi động được sttdesk</translation>
    </message>
    <message>
        <source>Transcript ready: %1</source>
        <translation>Đã có bản chép lời: %1</translation>
    </message>
    <message>
        <source>Transcription failed: %1</source>
        <translation>Chép lời thất bại: %1</translation>
    </message>
    <message>
        <source>Settings reset</source>
        <translation>Đã đặt lại cài đặt</translation>
    </message>
    <message>
        <source>The default settings are used; the old file was kept beside the new one with the ending .broken.</source>
        <translation>Đang dùng cài đặt mặc định; tệp cũ được giữ lại bên cạnh tệp mới với đuôi .broken.</translation>
    </message>
</context>
<context>
    <name>ExportDialog</name>
    <message>
        <source>Export Transcripts</source>
        <translation>Xuất bản chép lời</translation>
    </message>
    <message numerus="yes">
        <source>Save the transcripts of %n job(s) as:</source>
        <translation>
            <numerusform>Lưu bản chép lời của %n công việc dưới dạng:</numerusform>
        </translation>
    </message>
    <message>
        <source>Plain text (TXT)</source>
        <translation>Văn bản thuần (TXT)</translation>
    </message>
    <message>
        <source>Data with word times (JSON)</source>
        <translation>Dữ liệu kèm thời gian từng từ (JSON)</translation>
    </message>
    <message>
        <source>Subtitles (SRT)</source>
        <translation>Phụ đề (SRT)</translation>
    </message>
    <message>
        <source>Web subtitles (VTT)</source>
        <translation>Phụ đề web (VTT)</translation>
    </message>
    <message>
        <source>Start each line of the text file with its time</source>
        <translation>Ghi thời gian ở đầu mỗi dòng của tệp văn bản</translation>
    </message>
    <message>
        <source>Choose…</source>
        <translation>Chọn…</translation>
    </message>
    <message>
        <source>Folder:</source>
        <translation>Thư mục:</translation>
    </message>
    <message>
        <source>Files are named after the recordings; an earlier export of the same job is replaced.</source>
        <translation>Tệp được đặt tên theo bản ghi; bản xuất trước đó của cùng công việc sẽ bị thay thế.</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>Xuất</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Huỷ</translation>
    </message>
    <message>
        <source>Export to Folder</source>
        <translation>Xuất vào thư mục</translation>
    </message>
</context>
<context>
    <name>Formatting</name>
    <message>
        <source>Waiting</source>
        <extracomment>Languages a job can ask for, in the order menus list them; names are shown in their own language.</extracomment>
        <translation>Đang chờ</translation>
    </message>
    <message>
        <source>Transcribing</source>
        <translation>Đang chép lời</translation>
    </message>
    <message>
        <source>Paused</source>
        <translation>Tạm dừng</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>Xong</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>Thất bại</translation>
    </message>
    <message>
        <source>Cancelled</source>
        <translation>Đã huỷ</translation>
    </message>
    <message>
        <source>Auto-detect</source>
        <translation>Tự nhận diện</translation>
    </message>
    <message>
        <source>%1 (detected)</source>
        <translation>%1 (tự nhận diện)</translation>
    </message>
    <message>
        <source>%1× real time</source>
        <translation>%1× thời gian thực</translation>
    </message>
</context>
<context>
    <name>JobActions</name>
    <message>
        <source>&amp;Add Files…</source>
        <extracomment>Job states the operation applies to; selected jobs in other states are skipped. ``call(service, job_id)``, run on a worker thread. Job states that have a transcript worth opening or exporting. An operation of :data:`OPERATIONS` was asked for, by name.</extracomment>
        <translation>&amp;Thêm tệp…</translation>
    </message>
    <message>
        <source>Add audio or video files to transcribe</source>
        <translation>Thêm tệp âm thanh hoặc video để chép lời</translation>
    </message>
    <message>
        <source>Add &amp;Folder…</source>
        <translation>Thêm thư &amp;mục…</translation>
    </message>
    <message>
        <source>Add every audio and video file in a folder</source>
        <translation>Thêm mọi tệp âm thanh và video trong một thư mục</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>Tạm &amp;dừng</translation>
    </message>
    <message>
        <source>Pause the selected jobs</source>
        <translation>Tạm dừng các công việc đã chọn</translation>
    </message>
    <message>
        <source>&amp;Resume</source>
        <translation>Tiếp tụ&amp;c</translation>
    </message>
    <message>
        <source>Resume the selected paused jobs</source>
        <translation>Tiếp tục các công việc đang tạm dừng đã chọn</translation>
    </message>
    <message>
        <source>&amp;Cancel</source>
        <translation>&amp;Huỷ</translation>
    </message>
    <message>
        <source>Stop the selected jobs for good</source>
        <translation>Dừng hẳn các công việc đã chọn</translation>
    </message>
    <message>
        <source>Retry &amp;Failed</source>
        <translation>Thử &amp;lại phần lỗi</translation>
    </message>
    <message>
        <source>Try the failed parts of the selected jobs again</source>
        <translation>Thử lại các đoạn bị lỗi của công việc đã chọn</translation>
    </message>
    <message>
        <source>Re&amp;move</source>
        <translation>&amp;Xoá</translation>
    </message>
    <message>
        <source>Remove the selected jobs and their files from the list</source>
        <translation>Xoá các công việc đã chọn và tệp của chúng khỏi danh sách</translation>
    </message>
    <message>
        <source>Open Containing &amp;Folder</source>
        <translation>Mở thư mục &amp;chứa tệp</translation>
    </message>
    <message>
        <source>Show the selected file in the file manager</source>
        <translation>Hiện tệp đã chọn trong trình quản lý tệp</translation>
    </message>
    <message>
        <source>&amp;Export…</source>
        <translation>&amp;Xuất…</translation>
    </message>
    <message>
        <source>Save the transcripts of the selected jobs as TXT, JSON, SRT or VTT</source>
        <translation>Lưu bản chép lời của các công việc đã chọn dưới dạng TXT, JSON, SRT hoặc VTT</translation>
    </message>
</context>
<context>
    <name>JobAudioPlayer</name>
    <message>
        <source>The audio of this job is no longer available.</source>
        <extracomment>The format of a job&apos;s decoded audio (sttdesk.audio.decode writes 16 kHz mono s16le). Largest PCM a WAV header can describe (its sizes are 32-bit). Copy buffer for wrapping PCM in a WAV file. The play position moved (seconds on the file&apos;s timeline). Playing started or stopped. The audio could not be played: a message for the user.</extracomment>
        <translation>Âm thanh của công việc này không còn nữa.</translation>
    </message>
    <message>
        <source>The audio cannot be played: %1</source>
        <translation>Không phát được âm thanh: %1</translation>
    </message>
</context>
<context>
    <name>JobOptionsBar</name>
    <message>
        <source>Language spoken in the files you add next</source>
        <extracomment>The user picked another language or model: (language, model).</extracomment>
        <translation>Ngôn ngữ nói trong các tệp bạn thêm tiếp theo</translation>
    </message>
    <message>
        <source>Whisper model for the files you add next</source>
        <translation>Mô hình Whisper cho các tệp bạn thêm tiếp theo</translation>
    </message>
    <message>
        <source>&amp;Language:</source>
        <translation>&amp;Ngôn ngữ:</translation>
    </message>
    <message>
        <source>&amp;Model:</source>
        <translation>&amp;Mô hình:</translation>
    </message>
</context>
<context>
    <name>JobTableModel</name>
    <message>
        <source>File</source>
        <extracomment>The job&apos;s id (str). The whole :class:`JobView`. A plain value to sort the column by (numbers sort as numbers). ``(chunks done, chunks total, chunks failed, state)`` for the progress delegate. The job&apos;s state (str), e.g. &quot;PROCESSING&quot;. Columns by position: ``Column(n)`` costs an enum lookup, and data() runs for every cell and role. Columns whose text moves with the clock while a job runs. The roles data() answers; Qt asks each cell for a dozen more (font, colours...) at every paint.</extracomment>
        <translation>Tệp</translation>
    </message>
    <message>
        <source>Length</source>
        <translation>Độ dài</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Ngôn ngữ</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>Mô hình</translation>
    </message>
    <message>
        <source>State</source>
        <translation>Trạng thái</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>Tiến độ</translation>
    </message>
    <message>
        <source>Elapsed</source>
        <translation>Đã chạy</translation>
    </message>
    <message>
        <source>Remaining</source>
        <translation>Còn lại</translation>
    </message>
    <message>
        <source>Agents</source>
        <translation>Máy xử lý</translation>
    </message>
    <message>
        <source>Preparing…</source>
        <translation>Đang chuẩn bị…</translation>
    </message>
    <message numerus="yes">
        <source>%n part(s) failed</source>
        <translation>
            <numerusform>%n đoạn bị lỗi</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n retry(s)</source>
        <translation>
            <numerusform>%n lần thử lại</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Drop audio or video files here to transcribe them,
or use Add Files… (Ctrl+O).</source>
        <extracomment>How often the status bar&apos;s pool figures are read again. How long a status bar message stays. Wait after an agent event before reading the agents: the coordinator publishes its snapshot of the links a moment after it announces the event. Sum over ready agents of their measured speed (× real time); None before any measurement. Agent id → the name it announced, for the job table&apos;s agents column. The user asked to quit (menu or closing the window, after confirming). What the latest export wrote (for the status bar and tests).</extracomment>
        <translation>Thả tệp âm thanh hoặc video vào đây để chép lời,
hoặc dùng Thêm tệp… (Ctrl+O).</translation>
    </message>
    <message>
        <source>Main toolbar</source>
        <translation>Thanh công cụ chính</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>&amp;Tệp</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>T&amp;hoát</translation>
    </message>
    <message>
        <source>&amp;Jobs</source>
        <translation>&amp;Công việc</translation>
    </message>
    <message>
        <source>Select &amp;All</source>
        <translation>Chọn &amp;tất cả</translation>
    </message>
    <message>
        <source>&amp;Tools</source>
        <translation>Công &amp;cụ</translation>
    </message>
    <message>
        <source>&amp;Agents…</source>
        <translation>&amp;Máy xử lý…</translation>
    </message>
    <message>
        <source>See the computers that transcribe, and add one by address</source>
        <translation>Xem các máy đang chép lời và thêm máy theo địa chỉ</translation>
    </message>
    <message>
        <source>&amp;Models…</source>
        <translation>Mô &amp;hình…</translation>
    </message>
    <message>
        <source>Install, import, remove and choose whisper models</source>
        <translation>Cài đặt, nhập, xoá và chọn mô hình whisper</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>&amp;Cài đặt…</translation>
    </message>
    <message>
        <source>Starting agents…</source>
        <translation>Đang khởi động máy xử lý…</translation>
    </message>
    <message>
        <source>Add Files</source>
        <translation>Thêm tệp</translation>
    </message>
    <message>
        <source>Audio and video (%1);;All files (*)</source>
        <translation>Âm thanh và video (%1);;Mọi tệp (*)</translation>
    </message>
    <message>
        <source>Add Folder</source>
        <translation>Thêm thư mục</translation>
    </message>
    <message numerus="yes">
        <source>Adding %n item(s)…</source>
        <translation>
            <numerusform>Đang thêm %n mục…</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Added %n file(s).</source>
        <translation>
            <numerusform>Đã thêm %n tệp.</numerusform>
        </translation>
    </message>
    <message>
        <source>No audio or video files found.</source>
        <translation>Không tìm thấy tệp âm thanh hoặc video nào.</translation>
    </message>
    <message>
        <source>Some files were not added</source>
        <translation>Một số tệp không được thêm</translation>
    </message>
    <message numerus="yes">
        <source>%n file(s) could not be added:</source>
        <translation>
            <numerusform>Không thêm được %n tệp:</numerusform>
        </translation>
    </message>
    <message>
        <source>Files were not added</source>
        <translation>Tệp không được thêm</translation>
    </message>
    <message>
        <source>The action failed</source>
        <translation>Thao tác thất bại</translation>
    </message>
    <message>
        <source>Remove jobs</source>
        <translation>Xoá công việc</translation>
    </message>
    <message numerus="yes">
        <source>Remove %n job(s) from the list? Their transcripts and corrections are deleted; your audio files are not touched.</source>
        <translation>
            <numerusform>Xoá %n công việc khỏi danh sách? Bản chép lời và các chỗ sửa của chúng sẽ bị xoá; tệp âm thanh của bạn vẫn giữ nguyên.</numerusform>
        </translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>Xoá</translation>
    </message>
    <message>
        <source>Some jobs were left as they were</source>
        <translation>Một số công việc được giữ nguyên</translation>
    </message>
    <message>
        <source>The folder %1 no longer exists.</source>
        <translation>Thư mục %1 không còn tồn tại.</translation>
    </message>
    <message>
        <source>Export failed</source>
        <translation>Xuất thất bại</translation>
    </message>
    <message numerus="yes">
        <source>Saved %n file(s) in %1.</source>
        <translation>
            <numerusform>Đã lưu %n tệp vào %1.</numerusform>
        </translation>
    </message>
    <message>
        <source>Automatic export failed</source>
        <translation>Tự động xuất thất bại</translation>
    </message>
    <message>
        <source>Some transcripts were not saved</source>
        <translation>Một số bản chép lời không được lưu</translation>
    </message>
    <message>
        <source>Settings saved.</source>
        <translation>Đã lưu cài đặt.</translation>
    </message>
    <message>
        <source>No agents yet</source>
        <translation>Chưa có máy xử lý</translation>
    </message>
    <message numerus="yes">
        <source>%n agent(s) ready</source>
        <translation>
            <numerusform>%n máy xử lý sẵn sàng</numerusform>
        </translation>
    </message>
    <message>
        <source>%1× real time</source>
        <translation>%1× thời gian thực</translation>
    </message>
    <message numerus="yes">
        <source>%n transcribing</source>
        <translation>
            <numerusform>%n đang chép lời</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n waiting</source>
        <translation>
            <numerusform>%n đang chờ</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n paused</source>
        <translation>
            <numerusform>%n tạm dừng</numerusform>
        </translation>
    </message>
    <message>
        <source>Quit sttdesk</source>
        <translation>Thoát sttdesk</translation>
    </message>
    <message numerus="yes">
        <source>%n job(s) are still being transcribed. They will continue the next time you start sttdesk. Quit now?</source>
        <translation>
            <numerusform>%n công việc vẫn đang được chép lời. Chúng sẽ tiếp tục khi bạn mở lại sttdesk. Thoát ngay?</numerusform>
        </translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>Thoát</translation>
    </message>
</context>
<context>
    <name>Messages</name>
    <message>
        <source>Unexpected error: %1</source>
        <extracomment>At most this many lines are listed in one message; the rest are counted.</extracomment>
        <translation>Lỗi ngoài dự kiến: %1</translation>
    </message>
    <message>
        <source>…and %n more.</source>
        <translation>…và %n mục khác.</translation>
    </message>
    <message>
        <source>OK</source>
        <translation>OK</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Huỷ</translation>
    </message>
</context>
<context>
    <name>ModelsDialog</name>
    <message>
        <source>Models</source>
        <extracomment>The window&apos;s size before its columns are measured; it grows to show every column whole. Room kept for the model names (the one column sized by what it holds), in pixels. The layout&apos;s margins and the table&apos;s frame beside the columns, in pixels. Installed models or the default changed (the main window lists them again). The user made this model the default. Asks a yes/no question (tests answer it without a modal loop). Picks a model file to import; returns None when the user cancels.</extracomment>
        <translation>Mô hình</translation>
    </message>
    <message>
        <source>Show installed models only</source>
        <translation>Chỉ hiện mô hình đã cài</translation>
    </message>
    <message>
        <source>Install</source>
        <translation>Cài đặt</translation>
    </message>
    <message>
        <source>Import File…</source>
        <translation>Nhập tệp…</translation>
    </message>
    <message>
        <source>Add a whisper.cpp model file (ggml .bin) from this computer</source>
        <translation>Thêm một tệp mô hình whisper.cpp (ggml .bin) có sẵn trên máy này</translation>
    </message>
    <message>
        <source>Make Default</source>
        <translation>Đặt làm mặc định</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>Xoá</translation>
    </message>
    <message>
        <source>Cancel Install</source>
        <translation>Huỷ cài đặt</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>Đóng</translation>
    </message>
    <message>
        <source>★ %1 is recommended for this computer. Bigger models are more accurate but slower; the memory each needs is listed.</source>
        <extracomment>A model to select once the list is read again (the one just installed).</extracomment>
        <translation>★ Nên dùng %1 cho máy này. Mô hình càng lớn càng chính xác nhưng chậm hơn; bảng ghi bộ nhớ mỗi mô hình cần.</translation>
    </message>
    <message>
        <source>Bigger models are more accurate but slower; the memory each needs is listed.</source>
        <translation>Mô hình càng lớn càng chính xác nhưng chậm hơn; bảng ghi bộ nhớ mỗi mô hình cần.</translation>
    </message>
    <message>
        <source>Installing %1…</source>
        <translation>Đang cài %1…</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>Đang huỷ…</translation>
    </message>
    <message>
        <source>Importing %1…</source>
        <translation>Đang nhập %1…</translation>
    </message>
    <message>
        <source>Remove the model %1 (%2) from this computer? Jobs waiting for it will fail until it is installed again.</source>
        <translation>Xoá mô hình %1 (%2) khỏi máy này? Các công việc đang chờ mô hình này sẽ thất bại cho đến khi nó được cài lại.</translation>
    </message>
    <message>
        <source>Remove Model</source>
        <translation>Xoá mô hình</translation>
    </message>
    <message>
        <source>%1 was removed.</source>
        <translation>Đã xoá %1.</translation>
    </message>
    <message>
        <source>New jobs use %1 from now on.</source>
        <translation>Từ giờ các công việc mới sẽ dùng %1.</translation>
    </message>
    <message>
        <source>Building a model locally cannot be cancelled</source>
        <translation>Không thể huỷ khi đang dựng mô hình trên máy</translation>
    </message>
    <message>
        <source>Installed: %1</source>
        <translation>Đã cài: %1</translation>
    </message>
    <message>
        <source>Install of %1 cancelled; it resumes where it stopped next time.</source>
        <translation>Đã huỷ cài %1; lần sau sẽ tiếp tục từ chỗ đã dừng.</translation>
    </message>
    <message>
        <source>Import Model</source>
        <translation>Nhập mô hình</translation>
    </message>
    <message>
        <source>whisper.cpp models (*.bin);;All files (*)</source>
        <translation>Mô hình whisper.cpp (*.bin);;Mọi tệp (*)</translation>
    </message>
</context>
<context>
    <name>ModelsModel</name>
    <message>
        <source>Model</source>
        <extracomment>The model&apos;s name (str). The :class:`ModelRow`. A plain value to sort the column by.</extracomment>
        <translation>Mô hình</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Tình trạng</translation>
    </message>
    <message>
        <source>Languages</source>
        <translation>Ngôn ngữ</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>Dung lượng</translation>
    </message>
    <message>
        <source>Memory needed</source>
        <translation>Bộ nhớ cần</translation>
    </message>
    <message>
        <source>Precision</source>
        <translation>Độ chính xác số</translation>
    </message>
    <message>
        <source>Recommended for this computer: the most accurate model that runs well here</source>
        <translation>Nên dùng cho máy này: mô hình chính xác nhất mà máy chạy tốt</translation>
    </message>
    <message>
        <source>Installed</source>
        <translation>Đã cài</translation>
    </message>
    <message>
        <source>Available</source>
        <translation>Có thể cài</translation>
    </message>
    <message>
        <source>Damaged: reinstall it</source>
        <translation>Bị hỏng: hãy cài lại</translation>
    </message>
    <message>
        <source>default</source>
        <translation>mặc định</translation>
    </message>
    <message>
        <source>English only</source>
        <translation>Chỉ tiếng Anh</translation>
    </message>
    <message>
        <source>English, Tiếng Việt and more</source>
        <translation>Tiếng Anh, Tiếng Việt và nhiều thứ tiếng khác</translation>
    </message>
</context>
<context>
    <name>PairingCodeDialog</name>
    <message>
        <source>Pair with %1</source>
        <translation>Ghép đôi với %1</translation>
    </message>
    <message>
        <source>The agent now shows a six-digit pairing code: in its log, or with &apos;sttdesk-agent pairing&apos; on that computer. Type it here.</source>
        <translation>Máy xử lý đang hiển thị mã ghép đôi sáu chữ số: trong nhật ký của nó, hoặc bằng lệnh &apos;sttdesk-agent pairing&apos; trên máy đó. Hãy nhập mã vào đây.</translation>
    </message>
    <message>
        <source>That code did not match. Check it and type it again.</source>
        <translation>Mã không khớp. Hãy kiểm tra và nhập lại.</translation>
    </message>
    <message>
        <source>The agent shows the same fingerprint. If it does not, do not pair: another computer may be answering in its place.</source>
        <translation>Máy xử lý hiển thị cùng dấu vân tay này. Nếu không giống, đừng ghép đôi: có thể một máy khác đang trả lời thay nó.</translation>
    </message>
    <message numerus="yes">
        <source>The code is valid for %n more minute(s).</source>
        <translation>
            <numerusform>Mã còn hiệu lực %n phút nữa.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n attempt(s) left.</source>
        <translation>
            <numerusform>Còn %n lần thử.</numerusform>
        </translation>
    </message>
    <message>
        <source>Agent:</source>
        <translation>Máy xử lý:</translation>
    </message>
    <message>
        <source>Key fingerprint:</source>
        <translation>Dấu vân tay khoá:</translation>
    </message>
    <message>
        <source>Pairing code:</source>
        <translation>Mã ghép đôi:</translation>
    </message>
    <message>
        <source>Pair</source>
        <translation>Ghép đôi</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Huỷ</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <extracomment>Digits after the decimal point; 0 makes a whole-number spin box. When set, one step below ``minimum`` shows this text and stands for 0 (&quot;Automatic&quot; agents). Shown value = stored value × scale (a share shown in percent).</extracomment>
        <translation>Cài đặt</translation>
    </message>
    <message>
        <source>General</source>
        <translation>Chung</translation>
    </message>
    <message>
        <source>Processing</source>
        <translation>Xử lý</translation>
    </message>
    <message>
        <source>Chunking</source>
        <translation>Chia đoạn</translation>
    </message>
    <message>
        <source>Retries</source>
        <translation>Thử lại</translation>
    </message>
    <message>
        <source>Changes to processing, chunking, retries and the display language take effect the next time sttdesk starts.</source>
        <translation>Thay đổi về xử lý, chia đoạn, thử lại và ngôn ngữ hiển thị có hiệu lực từ lần mở sttdesk tiếp theo.</translation>
    </message>
    <message>
        <source>Save</source>
        <translation>Lưu</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Huỷ</translation>
    </message>
    <message>
        <source>Restore Defaults</source>
        <translation>Khôi phục mặc định</translation>
    </message>
    <message>
        <source>Same as the system</source>
        <translation>Theo hệ thống</translation>
    </message>
    <message>
        <source>Display language:</source>
        <translation>Ngôn ngữ hiển thị:</translation>
    </message>
    <message>
        <source>Start in the tray, without opening the window</source>
        <translation>Khởi động thu nhỏ vào khay hệ thống, không mở cửa sổ</translation>
    </message>
    <message>
        <source>Language of new jobs:</source>
        <translation>Ngôn ngữ của công việc mới:</translation>
    </message>
    <message>
        <source>The model store&apos;s default</source>
        <translation>Mô hình mặc định của kho</translation>
    </message>
    <message>
        <source>Model of new jobs:</source>
        <translation>Mô hình của công việc mới:</translation>
    </message>
    <message>
        <source>Off: export by hand</source>
        <translation>Tắt: tự xuất bằng tay</translation>
    </message>
    <message>
        <source>Choose…</source>
        <translation>Chọn…</translation>
    </message>
    <message>
        <source>Save finished transcripts to:</source>
        <translation>Lưu bản chép lời đã xong vào:</translation>
    </message>
    <message>
        <source>As:</source>
        <translation>Dạng:</translation>
    </message>
    <message>
        <source> s</source>
        <translation> giây</translation>
    </message>
    <message>
        <source>Agents on this computer:</source>
        <translation>Số máy xử lý trên máy này:</translation>
    </message>
    <message>
        <source>Automatic (one per core)</source>
        <translation>Tự động (mỗi nhân một máy)</translation>
    </message>
    <message>
        <source>Threads per agent:</source>
        <translation>Số luồng mỗi máy xử lý:</translation>
    </message>
    <message>
        <source>Time allowed per part:</source>
        <translation>Thời gian cho phép mỗi đoạn:</translation>
    </message>
    <message>
        <source>Beam size:</source>
        <translation>Độ rộng chùm (beam):</translation>
    </message>
    <message>
        <source>Greedy (fastest)</source>
        <translation>Tham lam (nhanh nhất)</translation>
    </message>
    <message>
        <source>Silence below:</source>
        <translation>Coi là im lặng dưới:</translation>
    </message>
    <message>
        <source> dBFS</source>
        <translation> dBFS</translation>
    </message>
    <message>
        <source>Shortest silence to cut at:</source>
        <translation>Khoảng lặng ngắn nhất để cắt:</translation>
    </message>
    <message>
        <source>Shortest part:</source>
        <translation>Đoạn ngắn nhất:</translation>
    </message>
    <message>
        <source>Aim for parts of:</source>
        <translation>Độ dài đoạn mong muốn:</translation>
    </message>
    <message>
        <source>Longest part:</source>
        <translation>Đoạn dài nhất:</translation>
    </message>
    <message>
        <source>Overlap at a forced cut:</source>
        <translation>Phần gối lên nhau khi buộc phải cắt:</translation>
    </message>
    <message>
        <source>Fixed parts (no silences found):</source>
        <translation>Đoạn cố định (khi không có khoảng lặng):</translation>
    </message>
    <message>
        <source>Overlap of fixed parts:</source>
        <translation>Phần gối lên nhau của đoạn cố định:</translation>
    </message>
    <message>
        <source>Cut at silences (recommended)</source>
        <translation>Cắt ở khoảng lặng (nên dùng)</translation>
    </message>
    <message>
        <source>Fixed-length parts</source>
        <translation>Đoạn dài cố định</translation>
    </message>
    <message>
        <source>How to cut:</source>
        <translation>Cách cắt:</translation>
    </message>
    <message>
        <source>Retries of a failed part:</source>
        <translation>Số lần thử lại một đoạn lỗi:</translation>
    </message>
    <message>
        <source>First wait:</source>
        <translation>Lần chờ đầu:</translation>
    </message>
    <message>
        <source>Each wait longer by:</source>
        <translation>Mỗi lần chờ dài hơn:</translation>
    </message>
    <message>
        <source>Longest wait:</source>
        <translation>Lần chờ dài nhất:</translation>
    </message>
    <message>
        <source>Random spread of waits:</source>
        <translation>Độ dao động ngẫu nhiên của thời gian chờ:</translation>
    </message>
    <message>
        <source>Save Finished Transcripts To</source>
        <translation>Lưu bản chép lời đã xong vào</translation>
    </message>
</context>
<context>
    <name>TranscriptModel</name>
    <message>
        <source>Time</source>
        <extracomment>Row kind: a segment of text, a failed chunk, or audio not transcribed yet. Start of the row on the file&apos;s timeline, seconds (float). End of the row, seconds (float). :data:`SEGMENT`, :data:`FAILED_GAP` or :data:`PENDING_GAP`. Position of the segment in the transcript (-1 for gaps). Whether the user corrected this segment&apos;s text. Colours of rows that are not plain text (light tints that work on light and dark palettes). The segment&apos;s text, or the reason for a gap (already in the UI language). The user changed a segment&apos;s text: (segment index, segment start, new text).</extracomment>
        <translation>Thời gian</translation>
    </message>
    <message>
        <source>Text</source>
        <translation>Nội dung</translation>
    </message>
    <message>
        <source>Corrected by you</source>
        <translation>Bạn đã sửa</translation>
    </message>
    <message>
        <source>Not transcribed: %1</source>
        <translation>Không chép lời được: %1</translation>
    </message>
    <message>
        <source>Not transcribed yet…</source>
        <translation>Chưa được chép lời…</translation>
    </message>
</context>
<context>
    <name>TranscriptPanel</name>
    <message>
        <source>Play or pause the audio (Ctrl+Space)</source>
        <extracomment>Reads of the shown transcript are spaced at least this far apart while chunks pour in. Room beside the find box&apos;s placeholder text (its icon and clear button), in pixels. The rows the view shows, made on the worker too (a long transcript takes a while). The user&apos;s file if it is still there, and the job&apos;s decoded audio if it exists. A message for the status bar. Something failed: (title, message) for an error box.</extracomment>
        <translation>Phát hoặc tạm dừng âm thanh (Ctrl+Space)</translation>
    </message>
    <message>
        <source>Find in transcript</source>
        <translation>Tìm trong bản chép lời</translation>
    </message>
    <message>
        <source>Retry failed parts</source>
        <translation>Thử lại các đoạn lỗi</translation>
    </message>
    <message>
        <source>Click a line to play it; double-click or press F2 to correct its text</source>
        <translation>Bấm vào một dòng để nghe; bấm đúp hoặc nhấn F2 để sửa nội dung</translation>
    </message>
    <message>
        <source>No job selected</source>
        <translation>Chưa chọn công việc</translation>
    </message>
    <message>
        <source>Select a job to read its transcript.</source>
        <translation>Chọn một công việc để đọc bản chép lời.</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>Đang tải…</translation>
    </message>
    <message>
        <source>%1 of %2 parts</source>
        <translation>%1 trên %2 đoạn</translation>
    </message>
    <message numerus="yes">
        <source>%n correction(s)</source>
        <translation>
            <numerusform>%n chỗ sửa</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n part(s) could not be transcribed.</source>
        <translation>
            <numerusform>%n đoạn không chép lời được.</numerusform>
        </translation>
    </message>
    <message>
        <source>They can be retried once the other parts are done.</source>
        <translation>Có thể thử lại khi các đoạn khác đã xong.</translation>
    </message>
    <message>
        <source>The job failed.</source>
        <translation>Công việc thất bại.</translation>
    </message>
    <message>
        <source>Retry</source>
        <translation>Thử lại</translation>
    </message>
    <message>
        <source>Correction saved.</source>
        <translation>Đã lưu chỗ sửa.</translation>
    </message>
    <message>
        <source>Could not save the correction</source>
        <translation>Không lưu được chỗ sửa</translation>
    </message>
    <message numerus="yes">
        <source>Retrying %n part(s).</source>
        <translation>
            <numerusform>Đang thử lại %n đoạn.</numerusform>
        </translation>
    </message>
    <message>
        <source>Could not retry</source>
        <translation>Không thử lại được</translation>
    </message>
    <message>
        <source>No matches</source>
        <translation>Không tìm thấy</translation>
    </message>
    <message>
        <source>%1 of %2</source>
        <translation>%1 / %2</translation>
    </message>
</context>
<context>
    <name>TrayIcon</name>
    <message>
        <source>Show sttdesk</source>
        <extracomment>How long a notice stays up, in milliseconds.</extracomment>
        <translation>Mở sttdesk</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>Thoát</translation>
    </message>
    <message>
        <source>Transcript ready</source>
        <translation>Đã có bản chép lời</translation>
    </message>
    <message>
        <source>Transcription failed</source>
        <translation>Chép lời thất bại</translation>
    </message>
</context>
</TS>
